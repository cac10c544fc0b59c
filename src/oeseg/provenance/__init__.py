"""Provenance of tracked artifacts: recorded by every rule (through oeseg.workflow.rule_step) in
`<results>/provenance.json`, audited by `oeseg audit`."""

from oeseg.provenance.audit import AuditReport, Problem, audit_report
from oeseg.provenance.record import (
                                     export_config_files,
                                     finalize_manifest,
                                     layered_config_files,
                                     load_manifest,
                                     manifest_path,
                                     record_rule,
                                     scrub,
)

__all__ = ["AuditReport", "Problem", "audit_report", "export_config_files", "finalize_manifest",
           "layered_config_files", "load_manifest", "manifest_path", "record_rule", "scrub"]
