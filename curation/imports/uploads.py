"""UPLOAD_MAX_BYTES for every upload (the import form, the API, any other): refused from the request's
Content-Length before a byte is stored, and counted while it streams in case the length lies. Django then drops
what it had received (its temporary file is deleted on close) and the view says why (`refusal`)."""
from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.template.defaultfilters import filesizeformat


def refusal(request) -> str | None:
    """Why the request's upload was refused, once its body has been parsed (None: it was not)."""
    return getattr(getattr(request, "_request", request), "upload_refused", None)


class LimitedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: passes chunks on to the next handlers, and stops the upload over the limit."""

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.request_length = content_length or 0
        self.received = 0

    def _refuse(self, size_text):
        limit = settings.UPLOAD_MAX_BYTES
        self.request.upload_refused = (
            f"The upload{f' {self.file_name}' if self.file_name else ''} is {size_text}: over the limit "
            f"UPLOAD_MAX_BYTES={limit:,} ({filesizeformat(limit)}). Nothing was stored."
        )
        raise StopUpload(connection_reset=True)

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        if self.request_length > settings.UPLOAD_MAX_BYTES:
            self._refuse(f"{self.request_length:,} bytes ({filesizeformat(self.request_length)})")

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.UPLOAD_MAX_BYTES:
            self._refuse("larger than its Content-Length said")
        return raw_data

    def file_complete(self, file_size):
        return None
