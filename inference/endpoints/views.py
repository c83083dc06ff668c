"""Admin pages of model endpoints (/endpoints/): list, add, edit, delete, test the connection; start and stop a
model server (a checkpoint served while a study needs it). No page shows a key: only its variable's name and
whether the web process sees it set."""
from django.contrib import messages
from django.db.models import ProtectedError
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.jobs.notices import job_message
from inference.access import requires
from inference.endpoints.forms import EndpointForm, ServerForm, key_is_set
from inference.endpoints.models import ModelEndpoint, ModelServer
from inference.endpoints.services import EndpointActionError, start_model_server, stop_model_server, test_connection

SERVERS_SHOWN = 20


def _page(request, *, form=None, server_form=None, status=200):
    endpoints = list(ModelEndpoint.objects.select_related("checkpoint__run"))
    servers = list(ModelServer.objects.select_related("endpoint", "checkpoint__run")[:SERVERS_SHOWN])
    return render(request, "inference/endpoints.html", {
        "rows": [{"endpoint": e, "key_set": key_is_set(e), "server": next((s for s in servers if s.endpoint_id == e.pk
                                                                            and s.is_active), None)} for e in endpoints],
        "servers": servers, "form": form or EndpointForm(), "server_form": server_form or ServerForm(),
        "polling": any(s.is_active for s in servers), "can_cancel": True,
    }, status=status)


@require_http_methods(["GET", "POST"])
@requires("inference.change_modelendpoint")
def endpoint_list(request):
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            endpoint = form.save()
            messages.success(request, f"Endpoint {endpoint.name} added. {test_connection(endpoint)}")
            return redirect("inference-endpoints")
        return _page(request, form=form, status=400)
    return _page(request)


@require_http_methods(["GET", "POST"])
@requires("inference.change_modelendpoint")
def endpoint_edit(request, pk):
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    form = EndpointForm(request.POST or None, instance=endpoint)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, f"Endpoint {endpoint.name} saved.")
        return redirect("inference-endpoints")
    return render(request, "inference/endpoint_edit.html", {"endpoint": endpoint, "form": form,
                                                            "key_set": key_is_set(endpoint)},
                  status=400 if form.errors else 200)


@require_POST
@requires("inference.delete_modelendpoint")
def endpoint_delete(request, pk):
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    if endpoint.server is not None:
        messages.error(request, f"{endpoint.name} is a running model server's: stop the server instead.")
        return redirect("inference-endpoints")
    try:
        endpoint.delete()
    except ProtectedError:
        messages.error(request, f"{endpoint.name} is still referenced and cannot be deleted.")
    else:
        messages.info(request, f"Endpoint {endpoint.name} deleted (its generation runs keep their answers).")
    return redirect("inference-endpoints")


@require_POST
@requires("inference.change_modelendpoint")
def endpoint_test(request, pk):
    endpoint = get_object_or_404(ModelEndpoint, pk=pk)
    result = test_connection(endpoint)
    (messages.success if result.startswith("Connected") else messages.error)(request, result)
    return redirect("inference-endpoints")


@require_POST
@requires("inference.add_modelserver")
def server_start(request):
    form = ServerForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            server = start_model_server(checkpoint=data["checkpoint"], model_path=data["model_path"].strip(),
                                        name=data["name"].strip(), api_key_env=data["api_key_env"].strip(),
                                        user=request.user)
        except EndpointActionError as error:
            form.add_error(None, str(error))
        else:
            job_message(request, server, f"Model server #{server.pk} ({server.name}) is queued for the gpu worker; it "
                                      "appears as an endpoint once it answers.")
            return redirect("inference-endpoints")
    return _page(request, server_form=form, status=400)


@require_POST
@requires("inference.change_modelserver")
def server_stop(request, pk):
    server = get_object_or_404(ModelServer, pk=pk)
    try:
        stop_model_server(server)
    except EndpointActionError as error:
        messages.error(request, str(error))
    else:
        messages.info(request, f"Stopping model server #{server.pk}: its endpoint goes away with it.")
    return redirect("inference-endpoints")


@require_GET
@requires("inference.change_modelendpoint")
def server_rows(request):
    return render(request, "inference/_servers.html", {
        "servers": ModelServer.objects.select_related("endpoint", "checkpoint__run")[:SERVERS_SHOWN],
        "polling": ModelServer.objects.filter(status__in=ModelServer.ACTIVE).exists(), "can_cancel": True,
    })
