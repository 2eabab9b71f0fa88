"""Language models: ``config`` (ModelConfig, torch-free), ``registry`` (the ``--arch`` names and what
each supports), ``base`` (LanguageModel = embed -> core -> head) and the cores it is built from."""
