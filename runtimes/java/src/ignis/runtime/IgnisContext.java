package ignis.runtime;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The handler's Context. When the function ships aws-lambda-java-core, the
 * handler sees it through a java.lang.reflect.Proxy implementing
 * com.amazonaws.services.lambda.runtime.Context (and CognitoIdentity,
 * ClientContext, Client, LambdaLogger for what it returns); otherwise it
 * gets this class, which has the same getters.
 */
public final class IgnisContext {
    private final String awsRequestId;
    private final String invokedFunctionArn;
    private final String tenantId;
    private final String xrayTraceId;
    private final long deadlineMs;
    private final Identity identity;
    private final ClientCtx clientContext;

    IgnisContext(String awsRequestId, String invokedFunctionArn, String tenantId, String xrayTraceId,
                 long deadlineMs, Identity identity, ClientCtx clientContext) {
        this.awsRequestId = awsRequestId;
        this.invokedFunctionArn = invokedFunctionArn;
        this.tenantId = tenantId;
        this.xrayTraceId = xrayTraceId;
        this.deadlineMs = deadlineMs;
        this.identity = identity;
        this.clientContext = clientContext;
    }

    public String getAwsRequestId() {
        return awsRequestId;
    }

    public String getLogGroupName() {
        return Bootstrap.env("AWS_LAMBDA_LOG_GROUP_NAME");
    }

    public String getLogStreamName() {
        return Bootstrap.env("AWS_LAMBDA_LOG_STREAM_NAME");
    }

    public String getFunctionName() {
        return Bootstrap.env("AWS_LAMBDA_FUNCTION_NAME");
    }

    public String getFunctionVersion() {
        return Bootstrap.env("AWS_LAMBDA_FUNCTION_VERSION");
    }

    public String getInvokedFunctionArn() {
        return invokedFunctionArn;
    }

    public Identity getIdentity() {
        return identity;
    }

    public ClientCtx getClientContext() {
        return clientContext;
    }

    public int getRemainingTimeInMillis() {
        long left = deadlineMs - System.currentTimeMillis();
        if (left < 0) {
            return 0;
        }
        return left > Integer.MAX_VALUE ? Integer.MAX_VALUE : (int) left;
    }

    public int getMemoryLimitInMB() {
        try {
            return Integer.parseInt(Bootstrap.env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").trim());
        } catch (RuntimeException e) {
            return 128;
        }
    }

    public Logger getLogger() {
        return Logger.INSTANCE;
    }

    public String getTenantId() {
        return tenantId;
    }

    public String getXrayTraceId() {
        return xrayTraceId;
    }

    @Override
    public String toString() {
        return "LambdaContext{requestId='" + awsRequestId + "', functionName='" + getFunctionName()
                + "', functionVersion='" + getFunctionVersion() + "', invokedFunctionArn='" + invokedFunctionArn
                + "', memoryLimitInMB=" + getMemoryLimitInMB() + ", remainingTimeInMillis="
                + getRemainingTimeInMillis() + "}";
    }

    // -- what the getters return -------------------------------------------------

    public static final class Identity {
        private final String identityId;
        private final String identityPoolId;

        Identity(String identityId, String identityPoolId) {
            this.identityId = identityId == null ? "" : identityId;
            this.identityPoolId = identityPoolId == null ? "" : identityPoolId;
        }

        public String getIdentityId() {
            return identityId;
        }

        public String getIdentityPoolId() {
            return identityPoolId;
        }

        @Override
        public String toString() {
            return "CognitoIdentity{identityId='" + identityId + "', identityPoolId='" + identityPoolId + "'}";
        }
    }

    public static final class Client {
        private final Map<String, String> values;

        Client(Map<String, String> values) {
            this.values = values;
        }

        public String getInstallationId() {
            return values.get("installation_id");
        }

        public String getAppTitle() {
            return values.get("app_title");
        }

        public String getAppVersionName() {
            return values.get("app_version_name");
        }

        public String getAppVersionCode() {
            return values.get("app_version_code");
        }

        public String getAppPackageName() {
            return values.get("app_package_name");
        }

        @Override
        public String toString() {
            return "Client" + values;
        }
    }

    public static final class ClientCtx {
        private final Client client;
        private final Map<String, String> custom;
        private final Map<String, String> environment;

        ClientCtx(Client client, Map<String, String> custom, Map<String, String> environment) {
            this.client = client;
            this.custom = custom;
            this.environment = environment;
        }

        public Client getClient() {
            return client;
        }

        public Map<String, String> getCustom() {
            return custom;
        }

        public Map<String, String> getEnvironment() {
            return environment;
        }

        @Override
        public String toString() {
            return "ClientContext{client=" + client + ", custom=" + custom + ", environment=" + environment + "}";
        }
    }

    /** The Lambda-Runtime-Client-Context header, parsed. */
    static ClientCtx parseClientContext(String header) {
        if (header == null || header.isEmpty()) {
            return null;
        }
        Object tree = Json.parse(header);
        if (!(tree instanceof Map)) {
            return null;
        }
        Map<?, ?> m = (Map<?, ?>) tree;
        Client client = null;
        if (m.get("client") instanceof Map) {
            client = new Client(stringMap(m.get("client")));
        }
        return new ClientCtx(client, m.get("custom") instanceof Map ? stringMap(m.get("custom")) : null,
                m.get("env") instanceof Map ? stringMap(m.get("env")) : null);
    }

    /** The Lambda-Runtime-Cognito-Identity header, parsed. */
    static Identity parseIdentity(String header) {
        if (header == null || header.isEmpty()) {
            return null;
        }
        Object tree = Json.parse(header);
        if (!(tree instanceof Map)) {
            return null;
        }
        Map<?, ?> m = (Map<?, ?>) tree;
        Object id = m.get("cognitoIdentityId");
        Object pool = m.get("cognitoIdentityPoolId");
        return new Identity(id == null ? null : id.toString(), pool == null ? null : pool.toString());
    }

    private static Map<String, String> stringMap(Object o) {
        Map<String, String> out = new LinkedHashMap<String, String>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) o).entrySet()) {
            Object v = e.getValue();
            if (v instanceof Map || v instanceof java.util.List) {
                v = Mapper.write(Mapper.natural(v));
            }
            out.put(String.valueOf(e.getKey()), v == null ? null : v.toString());
        }
        return Collections.unmodifiableMap(out);
    }

    // -- the aws-lambda-java-core view ---------------------------------------------

    /**
     * Wraps `target` (an IgnisContext, Identity, Client, ClientCtx or Logger)
     * in a proxy implementing `iface`: each interface method is answered by
     * the target's public method of the same name and arity; interface
     * default methods the target does not have run as written.
     */
    static Object proxy(final Class<?> iface, final Object target) {
        if (target == null) {
            return null;
        }
        return Proxy.newProxyInstance(iface.getClassLoader(), new Class<?>[] {iface}, new Forwarder(target));
    }

    private static final class Forwarder implements InvocationHandler {
        private final Object target;

        Forwarder(Object target) {
            this.target = target;
        }

        @Override
        public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
            String name = method.getName();
            int n = args == null ? 0 : args.length;
            if (n == 0 && name.equals("hashCode")) {
                return Integer.valueOf(System.identityHashCode(proxy));
            }
            if (n == 1 && name.equals("equals")) {
                return Boolean.valueOf(proxy == args[0]);
            }
            if (n == 0 && name.equals("toString")) {
                return target.toString();
            }
            if (target instanceof Logger) {
                return ((Logger) target).fromProxy(name, args);
            }
            Method own = null;
            for (Method m : target.getClass().getMethods()) {
                if (m.getName().equals(name) && m.getParameterCount() == n) {
                    own = m;
                    break;
                }
            }
            if (own == null) {
                if (method.isDefault()) {
                    return InvocationHandler.invokeDefault(proxy, method, args);
                }
                return zero(method.getReturnType());
            }
            Object value;
            try {
                value = own.invoke(target, args);
            } catch (java.lang.reflect.InvocationTargetException e) {
                throw e.getCause();
            }
            Class<?> rt = method.getReturnType();
            if (value != null && !rt.isInstance(value) && rt.isInterface() && !rt.isPrimitive()) {
                return proxy(rt, value);
            }
            return value;
        }
    }

    static Object zero(Class<?> c) {
        if (!c.isPrimitive() || c == void.class) {
            return null;
        }
        return Mapper.defaultPrimitive(c);
    }
}
