package ignis.runtime;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOError;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Ignis's runtime client for Lambda's managed Java runtimes (java17,
 * java21). Ignis starts one per execution environment, as
 *
 * <pre>
 *   java -XX:Flags=/var/runtime/jvm.flags
 *        -cp /var/runtime/ignis-runtime.jar ignis.runtime.Bootstrap
 * </pre>
 *
 * (the settings file holds the JVM's defaults, which the function's
 * JAVA_TOOL_OPTIONS override; with the client's class data sharing
 * archive for the JDK, its own settings file; see docs/runtimes.md)
 *
 * with the function's code directory as working directory and Lambda's
 * environment (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
 * AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*, IGNIS_OPT_DIR, ...).
 *
 * The function's classes load, as on Lambda, from a class loader over the
 * task root, then its lib/*.jar, then the layers' java/lib/*.jar (each
 * directory's jars in lexical order), whose parent is the loader of this
 * client. The client has no dependencies: aws-lambda-java-core, when the
 * function ships it, is found by name in the function's class loader, and
 * the handler's Context is a proxy implementing its interface.
 *
 * Handler forms, as on Lambda: "pkg.Class::method" with a public method
 * taking (), (I), (I, Context), (InputStream[, OutputStream][, Context])
 * ...; "pkg.Class" implementing RequestHandler&lt;I, O&gt; or
 * RequestStreamHandler.
 */
public final class Bootstrap {
    private Bootstrap() {
    }

    private static final String RUNTIME_PACKAGE = "ignis.runtime.";
    private static final String CORE = "com.amazonaws.services.lambda.runtime.";
    private static final String CORE_PATH = "com/amazonaws/services/lambda/runtime/";
    private static final byte[] JSON_NULL = {'n', 'u', 'l', 'l'};

    /** A variable of the function's environment. (Read when needed, not
     * when this class loads: a held JVM's environment is completed in
     * main, before anything reads it; see Held.) */
    static String env(String name) {
        return System.getenv(name);
    }

    // =====================================================================
    // Faults: errors of the function's set-up, reported as Lambda's Java
    // runtime reports them.
    // =====================================================================

    static final class Fault extends RuntimeException {
        private static final long serialVersionUID = 1L;
        final String msg;
        final String type;
        final String trace;
        final boolean fatal;

        Fault(String msg, String type, String trace, boolean fatal) {
            super(msg, null, false, false);
            this.msg = msg;
            this.type = type;
            this.trace = trace;
            this.fatal = fatal;
        }

        static Fault of(Throwable t, boolean fatal) {
            String m = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
            return new Fault(m, t.getClass().getName(), trace(t), fatal);
        }

        static Fault message(String msg) {
            return new Fault(msg, null, null, false);
        }

        /** What the runtime logs for it. */
        String reportable() {
            if (type != null || trace != null) {
                return msg + ": " + (type == null ? "" : type) + "\n" + (trace == null ? "" : trace) + "\n";
            }
            return msg + "\n";
        }

        byte[] document() {
            StringBuilder sb = new StringBuilder(128);
            sb.append("{\"errorMessage\":");
            Json.quote(sb, msg);
            if (type != null) {
                sb.append(",\"errorType\":");
                Json.quote(sb, type);
            }
            sb.append('}');
            return sb.toString().getBytes(StandardCharsets.UTF_8);
        }
    }

    static String trace(Throwable t) {
        filterStackTrace(t);
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    /** Cuts this client's frames (and what called them) off a throwable's
     * stack trace and those of its causes and suppressed throwables. */
    static <T extends Throwable> T filterStackTrace(T t) {
        filterStackTrace(t, new HashSet<Throwable>(), false);
        return t;
    }

    private static void filterStackTrace(Throwable t, Set<Throwable> seen, boolean dropReflection) {
        if (t == null || !seen.add(t)) {
            return;
        }
        StackTraceElement[] trace = t.getStackTrace();
        for (int i = 0; i < trace.length; i++) {
            if (trace[i].getClassName().startsWith(RUNTIME_PACKAGE)) {
                int end = i;
                if (dropReflection) {
                    while (end > 0 && isReflectionFrame(trace[end - 1])) {
                        end--;
                    }
                }
                t.setStackTrace(Arrays.copyOf(trace, end));
                break;
            }
        }
        filterStackTrace(t.getCause(), seen, dropReflection);
        for (Throwable s : t.getSuppressed()) {
            filterStackTrace(s, seen, dropReflection);
        }
    }

    private static boolean isReflectionFrame(StackTraceElement e) {
        String c = e.getClassName();
        return c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.reflect.")
                || c.startsWith("sun.reflect.");
    }

    /** The error document of an exception thrown by the function. */
    static byte[] exceptionDocument(Throwable t) {
        String m = t.getLocalizedMessage() == null ? t.getClass().getName() : t.getLocalizedMessage();
        StringBuilder sb = new StringBuilder(512);
        sb.append("{\"errorMessage\":");
        Json.quote(sb, m);
        sb.append(",\"errorType\":");
        Json.quote(sb, t.getClass().getName());
        sb.append(",\"stackTrace\":[");
        StackTraceElement[] st = t.getStackTrace();
        for (int i = 0; i < st.length; i++) {
            if (i > 0) {
                sb.append(',');
            }
            Json.quote(sb, st[i].toString());
        }
        sb.append("]}");
        return sb.toString().getBytes(StandardCharsets.UTF_8);
    }

    // =====================================================================
    // Handlers
    // =====================================================================

    abstract static class Handler {
        /** True when the runtime calls the function through an interface
         * method, which Lambda's runtime calls directly: the reflection
         * frames are not the function's. */
        boolean throughInterface;

        abstract byte[] call(byte[] payload, Object context) throws Throwable;
    }

    static final class FaultHandler extends Handler {
        final Fault fault;

        FaultHandler(Fault fault) {
            this.fault = fault;
        }

        @Override
        byte[] call(byte[] payload, Object context) {
            throw fault;
        }
    }

    /** The aws-lambda-java-core types, when the function ships them. */
    static final class Core {
        final Class<?> context;
        final Class<?> requestHandler;
        final Class<?> requestStreamHandler;
        final Class<?> lambdaLogger;

        Core(ClassLoader loader) {
            context = find(loader, "Context");
            requestHandler = find(loader, "RequestHandler");
            requestStreamHandler = find(loader, "RequestStreamHandler");
            lambdaLogger = find(loader, "LambdaLogger");
        }

        private static Class<?> find(ClassLoader loader, String name) {
            // Only the function's own code and layers can hold them (its
            // loader's parents hold the JDK and this client): a look at its
            // jars and directories first spares a failing load, and its
            // exception, for each type a function without the library lacks.
            if (loader instanceof URLClassLoader
                    && ((URLClassLoader) loader).findResource(CORE_PATH + name + ".class") == null) {
                return null;
            }
            try {
                return Class.forName(CORE + name, false, loader);
            } catch (ClassNotFoundException | LinkageError e) {
                return null;
            }
        }

        boolean isContext(Type t) {
            return context != null && context.equals(t);
        }

        Object wrap(IgnisContext ctx) {
            return context == null ? ctx : IgnisContext.proxy(context, ctx);
        }
    }

    static Core core;

    static Handler findHandler(String handler, ClassLoader loader) {
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String methodName = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return new FaultHandler(Fault.message("Invalid handler: `" + handler + "'"));
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return new FaultHandler(new Fault("Class not found: " + className, e.getClass().getName(), trace(e), false));
        } catch (NoClassDefFoundError e) {
            return new FaultHandler(loadingFault(e, className, false));
        } catch (Throwable t) {
            throw loadingFault(t, className, true);
        }
        Handler h = methodName == null ? interfaceHandler(cls) : methodHandler(cls, methodName);
        if (h instanceof FaultHandler && ((FaultHandler) h).fault.fatal) {
            throw ((FaultHandler) h).fault;
        }
        return h;
    }

    private static Fault loadingFault(Throwable e, String className, boolean fatal) {
        return new Fault("Error loading class " + className + (e.getMessage() == null ? "" : ": " + e.getMessage()),
                e.getClass().getName(), trace(e), fatal);
    }

    /** A new instance of the handler class, by its public no-argument
     * constructor; what the constructor throws is a fatal (init) fault. */
    private static Object instantiate(Class<?> cls) throws Exception {
        Constructor<?> k;
        try {
            k = cls.getConstructor();
        } catch (NoSuchMethodException e) {
            if (cls.getEnclosingClass() != null && !Modifier.isStatic(cls.getModifiers())) {
                throw new Exception("Class " + cls.getName() + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + cls.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return k.newInstance();
        } catch (InvocationTargetException e) {
            throw Fault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }

    // -- "pkg.Class": RequestHandler / RequestStreamHandler ------------------------

    private static Handler interfaceHandler(Class<?> cls) {
        try {
            if (core.requestStreamHandler != null && core.requestStreamHandler.isAssignableFrom(cls)) {
                final Object instance = instantiate(cls);
                final Method m = core.requestStreamHandler.getMethod("handleRequest",
                        InputStream.class, OutputStream.class, core.context);
                Handler h = new Handler() {
                    @Override
                    byte[] call(byte[] payload, Object context) throws Throwable {
                        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
                        invoke(m, instance, new Object[] {new ByteArrayInputStream(payload), out, context});
                        return out.toByteArray();
                    }
                };
                h.throughInterface = true;
                return h;
            }
            if (core.requestHandler != null && core.requestHandler.isAssignableFrom(cls)) {
                Type[] params = interfaceParameters(cls, core.requestHandler, null);
                if (params == null) {
                    return new FaultHandler(Fault.message("Class " + cls.getName()
                            + " does not implement RequestHandler with concrete type parameters"));
                }
                if (params.length != 2) {
                    return new FaultHandler(Fault.message(
                            "Invalid class signature for RequestHandler. Expected two generic types, got " + params.length));
                }
                for (Type t : params) {
                    if (t instanceof TypeVariable) {
                        boolean bounded = false;
                        for (Type b : ((TypeVariable<?>) t).getBounds()) {
                            if (!Object.class.equals(b)) {
                                bounded = true;
                            }
                        }
                        if (!bounded) {
                            return new FaultHandler(Fault.message("Class " + cls.getName()
                                    + " does not implement RequestHandler with concrete type parameters: parameter "
                                    + t + " has no upper bound."));
                        }
                    }
                }
                Object instance = instantiate(cls);
                Method m = core.requestHandler.getMethod("handleRequest", Object.class, core.context);
                Handler h = new PojoHandler(m, instance, params[0], params[1], true, true);
                h.throughInterface = true;
                return h;
            }
            return new FaultHandler(Fault.message("Class does not implement an appropriate handler interface: "
                    + cls.getName()));
        } catch (Fault f) {
            return new FaultHandler(f);
        } catch (Throwable t) {
            return new FaultHandler(Fault.of(t, false));
        }
    }

    /** The type arguments `cls` gives `iface`, through its superclasses and
     * superinterfaces; null when it implements it raw. */
    static Type[] interfaceParameters(Class<?> cls, Class<?> iface, Map<TypeVariable<?>, Type> bindings) {
        List<Type> supers = new ArrayList<Type>(Arrays.asList(cls.getGenericInterfaces()));
        if (cls.getGenericSuperclass() != null) {
            supers.add(cls.getGenericSuperclass());
        }
        for (Type s : supers) {
            Class<?> raw;
            Map<TypeVariable<?>, Type> next = new HashMap<TypeVariable<?>, Type>();
            Type[] args = null;
            if (s instanceof ParameterizedType) {
                raw = (Class<?>) ((ParameterizedType) s).getRawType();
                args = ((ParameterizedType) s).getActualTypeArguments().clone();
                for (int i = 0; i < args.length; i++) {
                    if (args[i] instanceof TypeVariable && bindings != null && bindings.containsKey(args[i])) {
                        args[i] = bindings.get(args[i]);
                    }
                }
                TypeVariable<?>[] vars = raw.getTypeParameters();
                for (int i = 0; i < vars.length && i < args.length; i++) {
                    next.put(vars[i], args[i]);
                }
            } else if (s instanceof Class) {
                raw = (Class<?>) s;
            } else {
                continue;
            }
            if (raw == iface) {
                return args;
            }
            if (iface.isAssignableFrom(raw)) {
                Type[] found = interfaceParameters(raw, iface, next);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    // -- "pkg.Class::method" -----------------------------------------------------

    private static int weight(Method m) {
        Class<?>[] p = m.getParameterTypes();
        int n = p.length;
        if (n > 0 && core.isContext(p[n - 1])) {
            n++;
        }
        return n;
    }

    private static Handler methodHandler(final Class<?> cls, String name) {
        Method[] all;
        try {
            all = cls.getMethods();
        } catch (NoClassDefFoundError e) {
            return new FaultHandler(new Fault("Error loading method " + name + " on class " + cls.getName(),
                    e.getClass().getName(), trace(e), false));
        }
        List<Method> candidates = new ArrayList<Method>();
        for (Method m : all) {
            if (m.getName().equals(name)) {
                candidates.add(m);
            }
        }
        // non-bridge methods first, then longer signatures, counting a last
        // Context parameter as one more (as Lambda's runtime does)
        candidates.sort(new Comparator<Method>() {
            @Override
            public int compare(Method a, Method b) {
                if (a.isBridge() != b.isBridge()) {
                    return a.isBridge() ? 1 : -1;
                }
                return Integer.compare(weight(b), weight(a));
            }
        });
        for (Method m : candidates) {
            Handler h = methodShape(cls, m);
            if (h != null) {
                return h;
            }
        }
        return new FaultHandler(Fault.message("No public method named " + name
                + " with appropriate method signature found on class " + cls.getName()));
    }

    /** The handler for one overload, or null when Lambda would skip it. */
    private static Handler methodShape(Class<?> cls, Method m) {
        Type[] p = m.getGenericParameterTypes();
        Type r = m.getGenericReturnType();
        boolean in0 = p.length > 0 && InputStream.class.equals(p[0]);
        switch (p.length) {
            case 0:
                return pojoMethod(cls, m, null, r, false);
            case 1:
                if (in0) {
                    return streamMethod(cls, m, true, false, false);
                }
                if (OutputStream.class.equals(p[0])) {
                    return streamMethod(cls, m, false, true, false);
                }
                if (core.isContext(p[0])) {
                    return pojoMethod(cls, m, null, r, true);
                }
                return pojoMethod(cls, m, p[0], r, false);
            case 2:
                if (OutputStream.class.equals(p[0])) {
                    if (core.isContext(p[1])) {
                        return streamMethod(cls, m, false, true, true);
                    }
                    System.err.println("Ignoring two-argument overload because first argument type is OutputStream"
                            + " and second argument type is not Context");
                    return null;
                }
                if (core.isContext(p[0])) {
                    System.err.println("Ignoring two-argument overload because first argument type is Context");
                    return null;
                }
                if (in0) {
                    if (OutputStream.class.equals(p[1])) {
                        return streamMethod(cls, m, true, true, false);
                    }
                    if (core.isContext(p[1])) {
                        return streamMethod(cls, m, true, false, true);
                    }
                    System.err.println("Ignoring two-argument overload because second parameter type, "
                            + Mapper.rawClass(p[1], null).getName() + ", is not OutputStream.");
                    return null;
                }
                if (core.isContext(p[1])) {
                    return pojoMethod(cls, m, p[0], r, true);
                }
                System.err.println("Ignoring two-argument overload because second parameter type is not Context");
                return null;
            case 3:
                if (in0 && OutputStream.class.equals(p[1]) && core.isContext(p[2])) {
                    return streamMethod(cls, m, true, true, true);
                }
                System.err.println("Ignoring three-argument overload because argument signature is not"
                        + " (InputStream, OutputStream, Context");
                return null;
            default:
                System.err.println("Ignoring an overload of method " + m.getName()
                        + " because it has too many parameters: Expected at most 3, got " + p.length);
                return null;
        }
    }

    private static Object instanceFor(Class<?> cls, Method m) throws Exception {
        return Modifier.isStatic(m.getModifiers()) ? null : instantiate(cls);
    }

    private static Handler pojoMethod(Class<?> cls, Method m, Type input, Type output, boolean needsContext) {
        try {
            trySetAccessible(m);
            return new PojoHandler(m, instanceFor(cls, m), input, output, needsContext, false);
        } catch (Fault f) {
            return new FaultHandler(f);
        } catch (Throwable t) {
            return new FaultHandler(Fault.of(t, false));
        }
    }

    private static Handler streamMethod(Class<?> cls, final Method m, final boolean needsIn,
                                        final boolean needsOut, final boolean needsContext) {
        final Object instance;
        try {
            trySetAccessible(m);
            instance = instanceFor(cls, m);
        } catch (Fault f) {
            return new FaultHandler(f);
        } catch (Throwable t) {
            return new FaultHandler(Fault.of(t, false));
        }
        return new Handler() {
            @Override
            byte[] call(byte[] payload, Object context) throws Throwable {
                ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
                Object[] args = new Object[(needsIn ? 1 : 0) + (needsOut ? 1 : 0) + (needsContext ? 1 : 0)];
                int i = 0;
                if (needsIn) {
                    args[i++] = new ByteArrayInputStream(payload);
                }
                if (needsOut) {
                    args[i++] = out;
                }
                if (needsContext) {
                    args[i++] = context;
                }
                invoke(m, instance, args);
                return out.toByteArray();
            }
        };
    }

    private static void trySetAccessible(Method m) {
        try {
            m.setAccessible(true);
        } catch (RuntimeException e) {
            // public methods of public classes need nothing more
        }
    }

    /** A POJO handler: JSON in, the method, JSON out. */
    static final class PojoHandler extends Handler {
        final Method method;
        final Object instance;
        final Type input;
        final boolean voidOutput;
        final boolean needsContext;
        final boolean alwaysTwoArgs;

        /** input null: the method takes no event; alwaysTwoArgs: it is
         * RequestHandler.handleRequest(Object, Context). */
        PojoHandler(Method method, Object instance, Type input, Type output, boolean needsContext, boolean alwaysTwoArgs) {
            this.method = method;
            this.instance = instance;
            this.input = input;
            this.voidOutput = output == void.class || output == Void.class;
            this.needsContext = needsContext;
            this.alwaysTwoArgs = alwaysTwoArgs;
            // introspect the input type now, as Lambda builds its serializers
            // at init
            if (input != null) {
                Class<?> raw = Mapper.rawClass(input, null);
                if (!raw.isPrimitive() && !raw.isArray() && !raw.isInterface() && !raw.isEnum()
                        && raw.getClassLoader() != null && raw.getClassLoader() != ClassLoader.getPlatformClassLoader()) {
                    try {
                        Mapper.BeanInfo.of(raw);
                    } catch (Throwable t) {
                        // reported when used
                    }
                }
            }
        }

        @Override
        byte[] call(byte[] payload, Object context) throws Throwable {
            Object event = null;
            if (input != null) {
                try {
                    event = Mapper.read(new String(payload, StandardCharsets.UTF_8), input);
                } catch (Throwable t) {
                    throw new RuntimeException("An error occurred during JSON parsing", filterStackTrace(t));
                }
            }
            Object[] args;
            if (alwaysTwoArgs) {
                args = new Object[] {event, context};
            } else {
                args = new Object[(input != null ? 1 : 0) + (needsContext ? 1 : 0)];
                int i = 0;
                if (input != null) {
                    args[i++] = event;
                }
                if (needsContext) {
                    args[i++] = context;
                }
            }
            Object result = invoke(method, instance, args);
            if (voidOutput) {
                return JSON_NULL;
            }
            try {
                return Mapper.write(result).getBytes(StandardCharsets.UTF_8);
            } catch (Throwable t) {
                throw new RuntimeException("An error occurred during JSON serialization of response", t);
            }
        }
    }

    static Object invoke(Method m, Object instance, Object[] args) throws Throwable {
        try {
            return m.invoke(instance, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }

    // =====================================================================
    // Start-up
    // =====================================================================

    static ClassLoader customerClassLoader() {
        String taskRoot = env("LAMBDA_TASK_ROOT");
        if (taskRoot == null || taskRoot.isEmpty()) {
            taskRoot = System.getProperty("user.dir");
        }
        String opt = env("IGNIS_OPT_DIR");
        if (opt == null || opt.isEmpty()) {
            opt = "/opt";
        }
        List<URL> urls = new ArrayList<URL>();
        try {
            urls.add(new File(taskRoot).toURI().toURL());
            addJars(new File(taskRoot, "lib"), urls);
            addJars(new File(new File(opt, "java"), "lib"), urls);
        } catch (java.net.MalformedURLException e) {
            throw new IllegalStateException(e);
        }
        return new URLClassLoader(urls.toArray(new URL[0]), Bootstrap.class.getClassLoader());
    }

    private static void addJars(File dir, List<URL> urls) throws java.net.MalformedURLException {
        String[] names = dir.list();
        if (names == null) {
            return;
        }
        Arrays.sort(names);
        for (String n : names) {
            if (n.endsWith(".jar")) {
                urls.add(new File(dir, n).toURI().toURL());
            }
        }
    }

    /** Points aws-lambda-java-core's LambdaRuntime.getLogger() at our logger. */
    private static void setupLambdaRuntimeLogger(ClassLoader loader) {
        if (core.lambdaLogger == null) {
            return;
        }
        try {
            Class<?> lr = Class.forName(CORE + "LambdaRuntime", true, loader);
            Field f = lr.getDeclaredField("logger");
            if (Modifier.isStatic(f.getModifiers()) && !Modifier.isFinal(f.getModifiers())) {
                f.setAccessible(true);
                f.set(null, IgnisContext.proxy(core.lambdaLogger, Logger.INSTANCE));
            }
        } catch (Throwable t) {
            // an older or different aws-lambda-java-core: leave it be
        }
    }

    private static void die(String message) {
        System.err.println("ignis: " + message);
        System.err.flush();
        System.exit(1);
    }

    public static void main(String[] args) {
        if (Held.held()) {
            Held.specialize();
        }
        System.setOut(new PrintStream(new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(new FileOutputStream(FileDescriptor.err), true, StandardCharsets.UTF_8));
        String address = env("AWS_LAMBDA_RUNTIME_API");
        RuntimeApi api = new RuntimeApi(address == null ? "127.0.0.1:9001" : address);
        Logger logger = Logger.INSTANCE;

        Handler handler;
        try {
            ClassLoader loader = customerClassLoader();
            Thread.currentThread().setContextClassLoader(loader);
            core = new Core(loader);
            setupLambdaRuntimeLogger(loader);
            String handlerName = env("_HANDLER");
            if (handlerName == null && args.length > 0) {
                handlerName = args[0];
            }
            try {
                handler = findHandler(handlerName == null ? "" : handlerName, loader);
            } catch (Fault f) {
                throw f;
            } catch (Throwable t) {
                throw Fault.of(t, true);
            }
        } catch (Fault f) {
            logger.log(f.reportable(), logger.isJson() ? "ERROR" : null);
            try {
                api.postInitError(f.document(), "Runtime.BadFunctionCode");
            } catch (RuntimeApi.ApiException e) {
                System.err.println("ignis: " + e.getMessage());
            }
            System.exit(1);
            return;
        }

        while (true) {
            RuntimeApi.Response resp;
            try {
                resp = api.next();
            } catch (RuntimeApi.ApiException e) {
                die(e.getMessage());
                return;
            }
            try {
                if (!handle(api, handler, resp)) {
                    System.exit(1);
                }
            } catch (RuntimeApi.ApiException e) {
                die(e.getMessage());
                return;
            }
        }
    }

    /** One invocation; false when the environment cannot go on. */
    static boolean handle(RuntimeApi api, Handler handler, RuntimeApi.Response resp) throws RuntimeApi.ApiException {
        String requestId = resp.header("lambda-runtime-aws-request-id");
        if (requestId == null) {
            requestId = "";
        }
        String traceId = resp.header("lambda-runtime-trace-id");
        if (traceId != null) {
            System.setProperty("com.amazonaws.xray.traceHeader", traceId);
        } else {
            System.clearProperty("com.amazonaws.xray.traceHeader");
        }
        String tenantId = resp.header("lambda-runtime-aws-tenant-id");
        Logger.INSTANCE.setInvocation(requestId, tenantId);
        long deadline = 0;
        try {
            String d = resp.header("lambda-runtime-deadline-ms");
            if (d != null) {
                deadline = Long.parseLong(d.trim());
            }
        } catch (NumberFormatException e) {
            deadline = 0;
        }
        Logger logger = Logger.INSTANCE;
        try {
            IgnisContext.Identity identity = null;
            IgnisContext.ClientCtx clientContext = null;
            try {
                identity = IgnisContext.parseIdentity(resp.header("lambda-runtime-cognito-identity"));
                clientContext = IgnisContext.parseClientContext(resp.header("lambda-runtime-client-context"));
            } catch (RuntimeException e) {
                // a malformed header leaves the field unset
            }
            IgnisContext ctx = new IgnisContext(requestId, resp.header("lambda-runtime-invoked-function-arn"),
                    tenantId, traceId, deadline, identity, clientContext);
            byte[] out = handler.call(resp.body, core.wrap(ctx));
            api.postResponse(requestId, out);
            Thread.interrupted();
            return true;
        } catch (Fault f) {
            logger.log(f.reportable(), logger.isJson() ? "ERROR" : null);
            api.postError(requestId, f.document(), "Runtime.BadFunctionCode");
            return !f.fatal;
        } catch (RuntimeApi.ApiException e) {
            throw e;
        } catch (Throwable t) {
            filterStackTrace(t, new HashSet<Throwable>(), handler.throughInterface);
            Fault f = Fault.of(t, false);
            logger.log(f.reportable(), logger.isJson() ? "ERROR" : null);
            byte[] doc;
            try {
                doc = exceptionDocument(t);
            } catch (Throwable again) {
                doc = Fault.of(t, false).document();
            }
            api.postError(requestId, doc, "Runtime.UserException");
            return !(t instanceof VirtualMachineError || t instanceof IOError);
        }
    }
}
