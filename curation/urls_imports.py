"""Pages of imports: runs with live progress, upload form, rejected records and rescue."""
urlpatterns = []
