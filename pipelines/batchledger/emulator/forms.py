"""Request form parsing for the upload endpoints: multipart/form-data and urlencoded.

The v3 SDK sends multipart with fields only (no file part); v1 sends urlencoded (§2 F5).
Multipart goes through the stdlib `email` parser because `cgi` is deprecated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from urllib.parse import parse_qsl


@dataclass
class FilePart:
    filename: str | None
    data: bytes


@dataclass
class Form:
    fields: dict[str, str] = field(default_factory=dict)
    files: dict[str, FilePart] = field(default_factory=dict)


class FormError(ValueError):
    pass


def parse_form(content_type: str, body: bytes) -> Form:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/x-www-form-urlencoded":
        return Form(fields=dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))
    if media_type == "multipart/form-data":
        return _parse_multipart(content_type, body)
    raise FormError(f"unsupported content type {media_type or '(none)'}")


def _parse_multipart(content_type: str, body: bytes) -> Form:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise FormError("malformed multipart body")
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None or name == "file":
            form.files[name] = FilePart(filename=filename, data=data)
        else:
            form.fields[name] = data.decode(part.get_content_charset() or "utf-8")
    return form
