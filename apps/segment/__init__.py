"""``gmmkit segment``: image segmentation by a Gaussian mixture on pixel colours, with Potts smoothing.

Python API (imported lazily so ``gmmkit --help`` stays fast):

* :func:`segment_image` - array in, :class:`Segmentation` (``labels, model``) out.
* :func:`segment_file` - file in, label map / recoloured image / boundaries / JSON out.
* :func:`read_image` - safe image decoding (EXIF orientation, alpha, 16-bit, bomb limit).
* :func:`potts_icm`, :func:`component_logp` - the smoothing building blocks.
* :func:`spatial_em` - a mixture fitted with the Potts prior inside EM (HMRF-EM).
* :func:`select_k` - K by ICL; :func:`choose_foreground`, :func:`find_point_masses`.

>>> import numpy as np
>>> from gmmkit_apps.segment import segment_image
>>> img = np.zeros((20, 20, 3), np.uint8); img[:, 10:] = 255
>>> labels, model = segment_image(img, k=2)
>>> len(np.unique(labels[:, :10])), len(np.unique(labels[:, 10:]))
(1, 1)
"""

__all__ = ["segment_image", "segment_file", "Segmentation", "read_image", "potts_icm",
           "component_logp", "select_k", "spatial_em", "choose_foreground", "find_point_masses",
           "write_outputs"]

_LAZY = {
    "segment_image": "core", "segment_file": "core", "Segmentation": "core", "select_k": "choose",
    "spatial_em": "hmrf", "choose_foreground": "foreground", "find_point_masses": "pointmass",
    "write_outputs": "outputs",
    "read_image": "images", "potts_icm": "mrf", "component_logp": "mrf",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
