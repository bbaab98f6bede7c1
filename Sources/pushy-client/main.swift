print("pushy-client")
