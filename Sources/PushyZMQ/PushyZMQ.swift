// PushyZMQ module.
