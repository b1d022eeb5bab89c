"""Sub-commands of the ``derain`` CLI, one module each (``add_parser`` + ``run``)."""
