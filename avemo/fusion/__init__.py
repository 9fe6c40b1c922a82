"""Late fusion: the rule over measured confusions, and the trained fusers it is compared with."""
