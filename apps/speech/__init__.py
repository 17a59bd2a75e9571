"""gmmkit speech app: MFCC front end, GMM phoneme/word classifiers, GMM-UBM speaker recognition.

Modules: :mod:`.features` (audio to normalised MFCC frames), :mod:`.classifier`
(``GMMClassifier``), :mod:`.ubm` (UBM training, MAP adaptation, top-C scoring),
:mod:`.metrics` (EER, minDCF, DET), :mod:`.corpus` (file lists and tables) and
:mod:`.cli` (the ``gmmkit speech`` commands). Nothing heavy is imported here.
"""
