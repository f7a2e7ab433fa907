"""The domain layer, settings, the schema and the API's field rules, called directly: no HTTP."""
