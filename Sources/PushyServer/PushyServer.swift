// PushyServer module.
