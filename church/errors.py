from api.errors import Conflict


class NumberTaken(Conflict):
    message = "This number is already in use."
