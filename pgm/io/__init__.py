"""Model file formats: UAI, BIF, and the toolkit's own pickle-free ``.npz`` format."""

from .uai import (read_evidence, read_map, read_marginals, read_pr, read_uai, write_map, write_marginals,
                  write_pr, write_uai)
from .bif import read_bif, write_bif
from .persist import load, save_model

__all__ = ["read_marginals", "write_marginals", "read_pr", "write_pr", "read_map", "write_map", "read_uai", "write_uai", "read_evidence", "read_bif", "write_bif", "load", "save_model"]
