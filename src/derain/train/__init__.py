"""Training: the generic loop, losses, continual learning over rain types, distributed glue."""
