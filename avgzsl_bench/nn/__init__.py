"""Building blocks of methods: layers, losses and the dropout mask streams."""
