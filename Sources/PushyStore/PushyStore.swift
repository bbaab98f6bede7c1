// PushyStore module.
