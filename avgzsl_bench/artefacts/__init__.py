"""Released artefacts (feature bundles, trained models): the catalogue, fetching, unpacking, state."""

from avgzsl_bench.artefacts.catalog import ARTEFACTS, Artefact, FolderRule, get_artefact, list_artefacts, provider_of

__all__ = ["ARTEFACTS", "Artefact", "FolderRule", "get_artefact", "list_artefacts", "provider_of"]
