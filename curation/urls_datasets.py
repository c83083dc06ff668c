"""Pages of dataset versions: list, detail, diff."""
urlpatterns = []
