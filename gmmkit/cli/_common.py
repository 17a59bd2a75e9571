"""Former home of the generic commands' helpers; they live in the public :mod:`gmmkit.cli.kit`."""
from .kit import (
                  COVARIANCE_TYPES,
                  DEFAULT_K_RANGE,
                  check_output,
                  escape,
                  fmt,
                  jsonable,
                  note,
                  parse_covariance,
                  parse_k,
                  print_json,
                  stdout_console,
)
from .kit import is_quiet as quiet

__all__ = ["COVARIANCE_TYPES", "DEFAULT_K_RANGE", "check_output", "escape", "fmt", "jsonable",
           "note", "parse_covariance", "parse_k", "print_json", "quiet", "stdout_console"]
