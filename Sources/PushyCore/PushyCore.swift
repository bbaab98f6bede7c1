// PushyCore module.
