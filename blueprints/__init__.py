"""One module per area, each exporting `bp`; registered by `create_app`."""
