// PushyAgent module.
