from api.errors import Conflict


class NumberTaken(Conflict):
    message = "This number is already in use."


class SlotChanged(Conflict):
    message = "The number was changed meanwhile; reload and try again."
