from api.errors import InvalidInput


class PhoneTaken(InvalidInput):
    field = "phone"
    message = "A member with this phone already exists."


class UnreadableFile(InvalidInput):
    field = "file"
