"""gmmkit's one exception family.

Every error the core raises for a user mistake derives from :class:`GMMKitError`,
so a caller (and the CLI) can catch the whole family in one place. Subclasses
also derive from the builtin that sklearn users expect (``ValueError``...).

>>> from gmmkit.exceptions import GMMKitError, DataError
>>> issubclass(DataError, (GMMKitError, ValueError))
True
"""


class GMMKitError(Exception):
    """Root of every error gmmkit raises on purpose."""


class DataError(GMMKitError, ValueError):
    """Input data is unusable: wrong shape, NaN/inf, non-numeric, too few rows."""


class DataTypeError(DataError, TypeError):
    """Input data has the wrong type (for example non-numeric cells)."""


class ParameterError(GMMKitError, ValueError):
    """An estimator or command parameter is out of range or inconsistent."""


class ModelFileError(GMMKitError, ValueError):
    """A model file is missing, truncated, corrupted, foreign or from a newer gmmkit."""


class OutputExistsError(GMMKitError, FileExistsError):
    """An output file exists and overwriting was not asked for."""


class GMMKitWarning(UserWarning):
    """Root of gmmkit's warnings."""


class DegenerateComponentWarning(GMMKitWarning):
    """A component lost its points or collapsed and was re-seeded."""
