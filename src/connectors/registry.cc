// placeholder: connector registry (connectors helper)
