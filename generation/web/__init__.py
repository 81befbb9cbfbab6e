"""The public verify page (DESIGN.md, "Web contract": `/verify/`)."""
