// Virtual agents (see the swarm issue).
