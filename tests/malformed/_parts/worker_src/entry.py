"""Fixture Worker for the malformed-stack corpus: one Durable Object class."""

from workers import DurableObject, WorkerEntrypoint


class Default(WorkerEntrypoint):
    async def fetch(self, request):
        return self.env.AI


class AgentState(DurableObject):
    pass


class NotADurableObject:
    pass
