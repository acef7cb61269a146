"""Command-line groups that have no better home (see ``cadmus.cli``)."""
