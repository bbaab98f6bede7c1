print("pushy")
