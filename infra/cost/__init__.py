"""Monthly cost estimates of a stack under a traffic profile (`edgestack cost`)."""
