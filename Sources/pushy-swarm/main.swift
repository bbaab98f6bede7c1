import PushySwarm
print("pushy-swarm: not yet")
