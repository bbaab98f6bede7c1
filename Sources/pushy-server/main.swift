print("pushy-server")
