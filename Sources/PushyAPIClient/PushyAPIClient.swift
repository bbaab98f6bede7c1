// PushyAPIClient module.
