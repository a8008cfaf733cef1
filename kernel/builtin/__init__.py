"""Built-in plugins, published as ``kernel.plugins`` entry points like any third-party plugin."""
