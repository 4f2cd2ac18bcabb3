"""builder: describe a network as blueprints, analyze it, build it with Keras."""
