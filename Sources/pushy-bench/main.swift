import PushySwarm
print("pushy-bench: not yet")
