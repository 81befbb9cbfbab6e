"""The contributor portal (DESIGN.md, "Web contract": `/portal/…`): a contributor's own images,
consents, uploads and "was my image used?". Every page is for the contributor role and shows
only what belongs to the contributor linked to the signed-in account (`access.py`)."""
