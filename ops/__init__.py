"""Offline and operational commands: `python -m ops plan | render | schema | migrate | registry`."""
