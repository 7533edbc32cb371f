/* zeus._zeus.ZeusdConnection and ZeusdStream: libzeus's zeusd client (zeus/zeusd_client.h) for
 * zeus.utils.zeusd's httpx transport (LibzeusTransport) and so for ZeusdClient and
 * PowerStreamingClient. The GIL is released around every call that waits on the daemon; a
 * stream's cancel() may come from any thread while another waits in next(). Errors are raised
 * through the package's table (zpy_raise): the transport turns their zeus_error name into the
 * httpx exception (ZEUS_ENODEV: ConnectError, ZEUS_ETIMEOUT: a timeout, ...). */
#include "zeuspy.h"

typedef struct {
    PyObject_HEAD zeus_zeusd_client *client;
} ConnObject;

typedef struct {
    PyObject_HEAD zeus_zeusd_stream *stream;
    bool busy;    /* a thread waits in next() with the GIL released */
    bool closing; /* close() came meanwhile: next() closes it when it returns */
} StreamObject;

static PyTypeObject StreamType;

static int conn_init(ConnObject *self, PyObject *args, PyObject *kw)
{
    static char *names[] = {"socket_path", "host_port", "token", "timeout_s", NULL};
    const char *sock = NULL, *hp = NULL, *token = NULL;
    double timeout_s = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "|zzzd", names, &sock, &hp, &token, &timeout_s))
        return -1;
    zeus_zeusd_client_options o;
    zeus_zeusd_client_options_init(&o);
    o.socket_path = sock;
    o.host_port = hp;
    o.token = token;
    o.timeout_s = timeout_s;
    zeus_zeusd_client *c = NULL;
    int rc = zeus_zeusd_client_open(&o, &c);
    if (rc != ZEUS_OK) {
        zpy_raise(rc, NULL);
        return -1;
    }
    zeus_zeusd_client_close(self->client);
    self->client = c;
    return 0;
}

static void conn_dealloc(ConnObject *self)
{
    zeus_zeusd_client_close(self->client);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* (status, headers, body, stream or None) from a reply. */
static PyObject *reply_tuple(const zeus_zeusd_reply *r, zeus_zeusd_stream *stream)
{
    PyObject *s = Py_None;
    Py_INCREF(s);
    if (stream) {
        StreamObject *so = PyObject_New(StreamObject, &StreamType);
        if (!so) {
            Py_DECREF(s);
            zeus_zeusd_stream_close(stream);
            return NULL;
        }
        so->stream = stream;
        so->busy = so->closing = false;
        Py_SETREF(s, (PyObject *)so);
    }
    PyObject *t = Py_BuildValue("(is#y#N)", r->status, r->headers, (Py_ssize_t)strlen(r->headers),
                                r->body, (Py_ssize_t)r->body_len, s);
    return t;
}

/* open(method, target, headers, body): the answer, an event stream left open. */
static PyObject *conn_open(ConnObject *self, PyObject *args)
{
    const char *method, *target, *headers;
    Py_buffer body;
    if (!self->client)
        return PyErr_Format(PyExc_RuntimeError, "ZeusdConnection is not initialized");
    if (!PyArg_ParseTuple(args, "sssy*", &method, &target, &headers, &body))
        return NULL;
    zeus_zeusd_reply r;
    zeus_zeusd_stream *stream = NULL;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_zeusd_stream_open(self->client, method, target, *headers ? headers : NULL, body.buf,
                                (size_t)body.len, &r, &stream);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&body);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    PyObject *t = reply_tuple(&r, stream);
    zeus_zeusd_reply_free(&r);
    return t;
}

static PyObject *conn_name(ConnObject *self, void *closure)
{
    (void)closure;
    return PyUnicode_FromString(zeus_zeusd_client_name(self->client));
}

static PyMethodDef conn_methods[] = {
    {"open", (PyCFunction)conn_open, METH_VARARGS,
     "open($self, method, target, headers, body, /)\n--\n\n(status, headers, body, stream or "
     "None): the answer; an event stream is left open"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef conn_getset[] = {
    {"name", (getter)conn_name, NULL, "'zeusd at ...'", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyTypeObject zpy_ZeusdConnectionType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.ZeusdConnection",
    .tp_basicsize = sizeof(ConnObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ZeusdConnection(socket_path=None, host_port=None, token=None, timeout_s=0.0)\n--\n\n"
              "A zeusd daemon's address (libzeus's zeusd client)",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)conn_init,
    .tp_dealloc = (destructor)conn_dealloc,
    .tp_methods = conn_methods,
    .tp_getset = conn_getset,
};

static void stream_release(StreamObject *self)
{
    zeus_zeusd_stream_close(self->stream);
    self->stream = NULL;
}

/* next(timeout_s=-1): the next event's bytes, None when the daemon ended the stream. */
static PyObject *stream_next(StreamObject *self, PyObject *args)
{
    double timeout_s = -1;
    if (!PyArg_ParseTuple(args, "|d", &timeout_s))
        return NULL;
    if (!self->stream)
        return PyErr_Format(PyExc_ValueError, "the zeusd event stream is closed");
    if (self->busy)
        return PyErr_Format(PyExc_RuntimeError, "another thread reads this zeusd event stream");
    char *event = NULL;
    size_t len = 0;
    int rc;
    self->busy = true;
    Py_BEGIN_ALLOW_THREADS
    rc = zeus_zeusd_stream_next(self->stream, timeout_s, &event, &len);
    Py_END_ALLOW_THREADS
    self->busy = false;
    if (self->closing)
        stream_release(self);
    if (rc != ZEUS_OK)
        return zpy_raise(rc, NULL);
    if (!event)
        Py_RETURN_NONE;
    PyObject *b = PyBytes_FromStringAndSize(event, (Py_ssize_t)len);
    zeus_free(event);
    return b;
}

static PyObject *stream_cancel(StreamObject *self, PyObject *unused)
{
    (void)unused;
    if (self->stream)
        zeus_zeusd_stream_cancel(self->stream);
    Py_RETURN_NONE;
}

static PyObject *stream_close(StreamObject *self, PyObject *unused)
{
    (void)unused;
    if (!self->stream)
        Py_RETURN_NONE;
    if (self->busy) { /* the reader closes it when it wakes */
        zeus_zeusd_stream_cancel(self->stream);
        self->closing = true;
    } else {
        stream_release(self);
    }
    Py_RETURN_NONE;
}

static void stream_dealloc(StreamObject *self)
{
    stream_release(self);
    PyObject_Free(self);
}

static PyMethodDef stream_methods[] = {
    {"next", (PyCFunction)stream_next, METH_VARARGS,
     "next($self, timeout_s=-1.0, /)\n--\n\nThe bytes of one event, or None at the end of the "
     "stream"},
    {"cancel", (PyCFunction)stream_cancel, METH_NOARGS,
     "cancel($self, /)\n--\n\nWakes next() in another thread."},
    {"close", (PyCFunction)stream_close, METH_NOARGS,
     "close($self, /)\n--\n\nCloses the connection."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject StreamType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "zeus._zeus.ZeusdStream",
    .tp_basicsize = sizeof(StreamObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "ZeusdStream()\n--\n\nA zeusd event stream (from ZeusdConnection.open)",
    .tp_dealloc = (destructor)stream_dealloc,
    .tp_methods = stream_methods,
};

int zpy_add_zeusd_types(PyObject *module)
{
    if (PyType_Ready(&zpy_ZeusdConnectionType) < 0 || PyType_Ready(&StreamType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "ZeusdConnection", (PyObject *)&zpy_ZeusdConnectionType) <
            0 ||
        PyModule_AddObjectRef(module, "ZeusdStream", (PyObject *)&StreamType) < 0)
        return -1;
    return 0;
}
