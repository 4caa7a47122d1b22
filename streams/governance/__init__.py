"""Change control and audit evidence: config diffs, the audit log, the controls register."""
