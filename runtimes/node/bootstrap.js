// Ignis managed runtime for Node.js (nodejs18.x … nodejs24.x).
//
// One self-contained CommonJS file, no dependencies. The server starts it once
// per execution environment as `node <dir>/bootstrap.js` with the function's
// code directory as the working directory and the environment Lambda gives a
// managed runtime (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT, …). It
// loads the handler once, then loops over the Runtime API:
//
//   GET  /2018-06-01/runtime/invocation/next         (long poll)
//   POST /2018-06-01/runtime/invocation/{id}/response
//   POST /2018-06-01/runtime/invocation/{id}/error   (+ Lambda-Runtime-Function-Error-Type)
//   POST /2018-06-01/runtime/init/error               (then exit)
//
// Behaviour follows Lambda's Node.js runtime: handler resolution (.js / .mjs /
// .cjs, "type": "module"), the callback / context.done / promise programming
// models with callbackWaitsForEmptyEventLoop, console patched to Lambda's text
// or JSON line format, error shapes ({errorType, errorMessage, trace}) and the
// Runtime.* error types. AWS_EXECUTION_ENV selects the programming model: from
// nodejs24.x on, callback handlers are refused and the context has no
// callback helpers, as on Lambda.
//
// The file also works if a package.json with "type": "module" happens to sit
// above it: it never relies on the CommonJS wrapper's free variables.

'use strict';

(async function ignisNodeRuntime(cjsRequire) {
  const req =
    typeof cjsRequire === 'function'
      ? cjsRequire
      : (await import('node:module')).createRequire(process.argv[1]);

  const http = req('http');
  const fs = req('fs');
  const path = req('path');
  const util = req('util');
  const Module = req('module');
  const { Writable } = req('stream');
  const { pathToFileURL } = req('url');

  // Started held (Ignis's prestarted runtimes, --prewarm): node and this
  // client start before the function is known, with only the variables
  // start-up reads. The rest of the environment is read from the descriptor
  // named -- `KEY=value` entries, NUL-terminated, to its end -- and completes
  // this process's environment, as if it had been started with it.
  if (process.env._IGNIS_SPECIALIZE_FD !== undefined) {
    // The ES module loader is set up by a program's first import(), which
    // costs an ES module handler 10-20 ms of its cold start: done now, on
    // a built-in module.
    await import('node:path');
    const fd = parseInt(process.env._IGNIS_SPECIALIZE_FD, 10);
    const chunks = [];
    const buf = Buffer.allocUnsafe(65536);
    for (;;) {
      let n;
      try {
        n = fs.readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        if (e.code === 'EAGAIN' || e.code === 'EINTR') continue;
        throw e;
      }
      if (n === 0) break;
      chunks.push(Buffer.from(buf.subarray(0, n)));
    }
    // The held start-up's variables are the function's own, with their
    // values: the rest is added.
    delete process.env._IGNIS_SPECIALIZE_FD;
    for (const entry of Buffer.concat(chunks).toString('utf8').split('\0')) {
      const at = entry.indexOf('=');
      if (at > 0) process.env[entry.slice(0, at)] = entry.slice(at + 1);
    }
    process.chdir(process.env.LAMBDA_TASK_ROOT || '/var/task');
  }

  const env = process.env;
  const API_PREFIX = '/2018-06-01';
  const ERROR_TYPE_HEADER = 'Lambda-Runtime-Function-Error-Type';
  const ERROR_BODY_TRAILER = 'Lambda-Runtime-Function-Error-Body';
  const EXIT_UNCAUGHT = 129;
  const EXIT_REJECTION = 128;

  // ---------------------------------------------------------------------------
  // Runtime generation (from the runtime identifier, not the interpreter).

  const runtimeMajor = (() => {
    const m = /^AWS_Lambda_nodejs(\d+)/.exec(env.AWS_EXECUTION_ENV || '');
    return m ? parseInt(m[1], 10) : 0;
  })();
  const nodeMajor = parseInt(process.versions.node.split('.')[0], 10);
  // nodejs24.x and later: promise-only programming model.
  const PROMISE_ONLY = runtimeMajor >= 24;

  // ---------------------------------------------------------------------------
  // Errors.

  function runtimeErrorClass(shortName, fixedMessage) {
    const cls = class extends Error {
      constructor(reason) {
        super(fixedMessage !== undefined ? fixedMessage : reason);
      }
    };
    Object.defineProperty(cls, 'name', { value: shortName });
    cls.prototype.name = `Runtime.${shortName}`;
    return cls;
  }

  const ImportModuleError = runtimeErrorClass('ImportModuleError');
  const HandlerNotFound = runtimeErrorClass('HandlerNotFound');
  const MalformedHandlerName = runtimeErrorClass('MalformedHandlerName');
  const UserCodeSyntaxError = runtimeErrorClass('UserCodeSyntaxError');
  const MalformedStreamingHandler = runtimeErrorClass('MalformedStreamingHandler');
  const InvalidStreamingOperation = runtimeErrorClass('InvalidStreamingOperation');
  const CallbackHandlerDeprecated = runtimeErrorClass('CallbackHandlerDeprecated');
  const JSONStringifyError = runtimeErrorClass(
    'JSONStringifyError',
    'Unable to stringify response body',
  );
  const NodeJsExit = runtimeErrorClass(
    'NodeJsExit',
    'The Lambda runtime client detected an unexpected Node.js exit code. This is most ' +
      'commonly caused by a Promise that was never settled. For more information, see ' +
      'https://nodejs.org/docs/latest/api/process.html#exit-codes',
  );
  class UnhandledPromiseRejection extends Error {
    constructor(reason, promise) {
      let text;
      try {
        text = reason === undefined ? undefined : String(reason);
      } catch (_) {
        text = util.inspect(reason);
      }
      super(text);
      this.reason = reason;
      this.promise = promise;
    }
  }
  UnhandledPromiseRejection.prototype.name = 'Runtime.UnhandledPromiseRejection';

  function errorLike(v) {
    return (
      v !== null &&
      typeof v === 'object' &&
      typeof v.name === 'string' &&
      typeof v.message === 'string' &&
      typeof v.stack === 'string' &&
      v.name !== '' &&
      v.message !== '' &&
      v.stack !== ''
    );
  }

  // The body of an /error post, as Lambda's Node.js runtime shapes it.
  function errorPayload(err) {
    try {
      if (util.types.isNativeError(err) || errorLike(err)) {
        return {
          errorType: err.name,
          errorMessage: err.message,
          trace: err.stack.split('\n'),
        };
      }
      return { errorType: typeof err, errorMessage: err.toString(), trace: [] };
    } catch (_) {
      return {
        errorType: 'handled',
        errorMessage:
          'callback called with Error argument, but there was a problem while retrieving ' +
          'one or more of its message, name, and stack',
      };
    }
  }

  function asError(v) {
    return v instanceof Error ? v : new Error(v);
  }

  // An error with its non-enumerable parts made visible, for the text logs.
  function describeErrors(_key, value) {
    if (!(value instanceof Error)) return value;
    const out = Object.assign(
      { errorType: value.name, errorMessage: value.message, code: value.code },
      value,
    );
    if (typeof value.stack === 'string') out.stack = value.stack.split('\n');
    return out;
  }

  function formatErrorForText(err) {
    try {
      return '\t' + JSON.stringify(err, describeErrors);
    } catch (_) {
      return '\t' + JSON.stringify(errorPayload(err));
    }
  }

  // ---------------------------------------------------------------------------
  // Logging: console.* in Lambda's text or JSON line format.

  const REQUEST_ID = Symbol.for('aws.lambda.runtime.requestId');
  const TENANT_ID = Symbol.for('aws.lambda.runtime.tenantId');
  const JSON_LOGS = (env.AWS_LAMBDA_LOG_FORMAT || '').toUpperCase() === 'JSON';
  const LEVELS = {
    TRACE: 1,
    DEBUG: 2,
    INFO: 3,
    WARN: 4,
    ERROR: 5,
    FATAL: 6,
  };

  function jsonErrorValue(_key, value) {
    if (!(value instanceof Error)) return value;
    const ctor = value.constructor;
    return Object.assign(
      {
        errorType: (ctor && ctor.name) || 'UnknownError',
        errorMessage: value.message,
        stackTrace: typeof value.stack === 'string' ? value.stack.split('\n') : value.stack,
      },
      value,
    );
  }

  function jsonLine(level, args) {
    const record = { timestamp: new Date().toISOString(), level, requestId: globalThis[REQUEST_ID] };
    const tenant = globalThis[TENANT_ID];
    if (tenant !== undefined) record.tenantId = tenant;
    if (args.length === 1) {
      record.message = args[0];
      try {
        return JSON.stringify(record, jsonErrorValue);
      } catch (_) {
        record.message = util.format(args[0]);
        return JSON.stringify(record);
      }
    }
    record.message = util.format(...args);
    for (const a of args) {
      if (a instanceof Error) {
        record.errorType = (a.constructor && a.constructor.name) || 'UnknownError';
        record.errorMessage = a.message;
        record.stackTrace = typeof a.stack === 'string' ? a.stack.split('\n') : [];
        break;
      }
    }
    return JSON.stringify(record);
  }

  function textLine(level, args) {
    return `${new Date().toISOString()}\t${globalThis[REQUEST_ID]}\t${level}\t${util.format(...args)}`;
  }

  const formatLine = JSON_LOGS ? jsonLine : textLine;

  function emit(level, args) {
    // One record per line: embedded newlines become carriage returns.
    process.stdout.write(formatLine(level, args).replace(/\n/g, '\r') + '\n');
  }

  function patchConsole() {
    const threshold = LEVELS[(env.AWS_LAMBDA_LOG_LEVEL || '').toUpperCase()] || LEVELS.TRACE;
    const noop = () => {};
    const at = (level) =>
      LEVELS[level] >= threshold ? (message, ...params) => emit(level, [message, ...params]) : noop;
    console.trace = at('TRACE');
    console.debug = at('DEBUG');
    console.info = at('INFO');
    console.log = console.info;
    console.warn = at('WARN');
    console.error = at('ERROR');
    console.fatal = (message, ...params) => emit('FATAL', [message, ...params]);
  }

  // "Invoke Error", "Uncaught Exception", … as Lambda logs them.
  function logError(title, err) {
    if (JSON_LOGS) console.error(asError(err));
    else console.error(title, formatErrorForText(asError(err)));
  }

  function setLogContext(requestId, tenantId) {
    globalThis[REQUEST_ID] = requestId;
    globalThis[TENANT_ID] = tenantId;
  }

  // ---------------------------------------------------------------------------
  // Runtime API client: node's http with one keep-alive connection.

  function fatal(message) {
    try {
      process.stderr.write(`ignis node runtime: ${message}\n`);
    } finally {
      process.exit(1);
    }
  }

  const apiAddress = env.AWS_LAMBDA_RUNTIME_API;
  if (!apiAddress) fatal('AWS_LAMBDA_RUNTIME_API is not set');
  const [apiHost, apiPort] = (() => {
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(apiAddress);
    if (bracketed) return [bracketed[1], parseInt(bracketed[2] || '80', 10)];
    const colon = apiAddress.lastIndexOf(':');
    if (colon < 0) return [apiAddress, 80];
    return [apiAddress.slice(0, colon), parseInt(apiAddress.slice(colon + 1), 10)];
  })();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  function headerSafe(value) {
    return String(value).replace(/[^\x20-\x7e]/g, (c) => encodeURIComponent(c));
  }

  // One HTTP exchange; retried once when a reused keep-alive connection turned
  // out to be closed by the server before the request reached it. `via` is
  // the keep-alive agent, or false for a connection of its own (crash reports
  // must not queue behind a pending long poll).
  function exchange(method, urlPath, body, headers, via = agent, attempt = 0) {
    return new Promise((resolve, reject) => {
      const outgoing = Object.assign({}, headers);
      if (body !== undefined) outgoing['Content-Length'] = Buffer.byteLength(body);
      const request = http.request(
        { host: apiHost, port: apiPort, method, path: API_PREFIX + urlPath, headers: outgoing, agent: via },
        (response) => {
          const chunks = [];
          response.on('data', (c) => chunks.push(c));
          response.on('end', () =>
            resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }),
          );
          response.on('error', reject);
        },
      );
      request.on('error', (err) => {
        if (request.reusedSocket && err.code === 'ECONNRESET' && attempt === 0) {
          exchange(method, urlPath, body, headers, via, 1).then(resolve, reject);
        } else {
          reject(err);
        }
      });
      request.end(body);
    });
  }

  async function post(urlPath, body, headers, via = agent) {
    let res;
    try {
      res = await exchange('POST', urlPath, body, headers, via);
    } catch (err) {
      fatal(`POST ${urlPath} failed: ${err.message}`);
    }
    if (res.status >= 500) {
      fatal(`POST ${urlPath} answered ${res.status}: ${res.body.toString('utf8')}`);
    }
    return res;
  }

  async function nextInvocation() {
    let res;
    try {
      res = await exchange('GET', '/runtime/invocation/next', undefined, {});
    } catch (err) {
      fatal(`GET /runtime/invocation/next failed: ${err.message}`);
    }
    if (res.status !== 200) {
      fatal(`GET /runtime/invocation/next answered ${res.status}: ${res.body.toString('utf8')}`);
    }
    return { headers: res.headers, body: res.body.toString('utf8') };
  }

  function postError(urlPath, err, via = agent) {
    const payload = errorPayload(err);
    const headers = { 'Content-Type': 'application/json' };
    if (payload.errorType !== undefined) headers[ERROR_TYPE_HEADER] = headerSafe(payload.errorType);
    return post(urlPath, JSON.stringify(payload), headers, via);
  }

  function postInitError(err, via = agent) {
    return postError('/runtime/init/error', err, via);
  }

  function postInvocationError(id, err, via = agent) {
    return postError(`/runtime/invocation/${encodeURIComponent(id)}/error`, err, via);
  }

  function postInvocationResponse(id, result) {
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (_) {
      const err = PROMISE_ONLY ? new JSONStringifyError() : new Error('Unable to stringify response body');
      logError('Invoke Error', err);
      return postInvocationError(id, err);
    }
    if (body === undefined) body = 'null';
    return post(`/runtime/invocation/${encodeURIComponent(id)}/response`, body, {
      'Content-Type': 'application/json',
    });
  }

  // ---------------------------------------------------------------------------
  // Process-level failure handling. Until the first invocation arrives a
  // crash is an init error; during one it fails that invocation; either way
  // the process exits, as Lambda's runtime does.

  const state = {
    invokeId: undefined, // latest invocation
    reported: true, // its outcome has been (or is being) posted
    exiting: false,
  };

  function crash(err, code) {
    if (state.exiting) return;
    state.exiting = true;
    const exit = () => process.exit(code);
    setTimeout(exit, 2000).unref();
    let posting = Promise.resolve();
    if (state.invokeId === undefined) posting = postInitError(err, false);
    else if (!state.reported) {
      state.reported = true;
      posting = postInvocationError(state.invokeId, err, false);
    }
    posting.then(exit, exit);
  }

  process.on('uncaughtException', (err) => {
    logError('Uncaught Exception', err);
    crash(err, EXIT_UNCAUGHT);
  });
  process.on('unhandledRejection', (reason, promise) => {
    const err = new UnhandledPromiseRejection(reason, promise);
    logError('Unhandled Promise Rejection', err);
    crash(err, EXIT_REJECTION);
  });

  // The one 'beforeExit' action: fires when the event loop has nothing left
  // to do while an invocation waits on it (callbackWaitsForEmptyEventLoop, a
  // handler that never answered).
  let onEmptyEventLoop = null;
  process.on('beforeExit', () => {
    const action = onEmptyEventLoop;
    if (action && !state.exiting) action();
  });

  // ---------------------------------------------------------------------------
  // Module search paths (layers) and handler loading.

  function configureModulePaths() {
    const taskRoot = env.LAMBDA_TASK_ROOT || process.cwd();
    if (!env.NODE_PATH) {
      const opt = env.IGNIS_OPT_DIR || '/opt';
      const major = runtimeMajor || nodeMajor;
      env.NODE_PATH = [
        `${opt}/nodejs/node${major}/node_modules`,
        `${opt}/nodejs/node_modules`,
        taskRoot,
      ].join(path.delimiter);
      if (typeof Module._initPaths === 'function') Module._initPaths();
    }
    return taskRoot;
  }

  // ES modules ignore NODE_PATH. Lambda lets ES modules import packages from
  // layers (nodejs18.x and later): a resolve hook retries a bare specifier
  // that failed the normal lookup against the NODE_PATH directories.
  let esmLayerHookInstalled = false;
  function installEsmLayerHook(taskRoot) {
    if (esmLayerHookInstalled) return;
    esmLayerHookInstalled = true;
    const dirs = (env.NODE_PATH || '')
      .split(path.delimiter)
      .filter((d) => d && path.resolve(d) !== path.resolve(taskRoot) && fs.existsSync(d))
      .map((d) => pathToFileURL(path.join(path.resolve(d), 'noop.js')).href);
    if (dirs.length === 0) return;
    const bare = (s) => !/^(?:[./]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(s);
    if (typeof Module.registerHooks === 'function') {
      Module.registerHooks({
        resolve(specifier, context, nextResolve) {
          try {
            return nextResolve(specifier, context);
          } catch (err) {
            if (!bare(specifier) || err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
            for (const parentURL of dirs) {
              try {
                return nextResolve(specifier, Object.assign({}, context, { parentURL }));
              } catch (_) {
                // try the next directory
              }
            }
            throw err;
          }
        },
      });
    } else if (typeof Module.register === 'function') {
      const source = `
        const dirs = ${JSON.stringify(dirs)};
        const bare = (s) => !/^(?:[./]|[a-zA-Z][a-zA-Z0-9+.-]*:)/.test(s);
        export async function resolve(specifier, context, nextResolve) {
          try {
            return await nextResolve(specifier, context);
          } catch (err) {
            if (!bare(specifier) || err.code !== 'ERR_MODULE_NOT_FOUND') throw err;
            for (const parentURL of dirs) {
              try {
                return await nextResolve(specifier, { ...context, parentURL });
              } catch (_) {}
            }
            throw err;
          }
        }`;
      Module.register('data:text/javascript,' + encodeURIComponent(source));
    }
  }

  function nearestPackageIsModule(dir) {
    for (;;) {
      if (dir.endsWith(`${path.sep}node_modules`)) return false;
      const manifest = path.join(dir, 'package.json');
      if (fs.existsSync(manifest)) {
        try {
          const pkg = JSON.parse(fs.readFileSync(manifest, 'utf8'));
          return Boolean(pkg) && pkg.type === 'module';
        } catch (err) {
          console.warn(
            `${manifest} cannot be read, it will be ignored for ES module detection purposes.`,
            err,
          );
          return false;
        }
      }
      const parent = path.dirname(dir);
      if (parent === dir) return false;
      dir = parent;
    }
  }

  // Loads the handler's module the way Lambda's Node.js runtime looks for it:
  // the exact path, then .js (CommonJS unless the nearest package.json says
  // "type": "module"), .mjs, .cjs (and TypeScript files on Node 24+), then
  // node's own resolution from the task root.
  async function loadUserModule(taskRoot, moduleRoot, moduleName) {
    const base = path.resolve(taskRoot, moduleRoot, moduleName);
    const exists = (p) => fs.existsSync(p);
    const requireFile = (p) => (exists(p) ? req(p) : undefined);
    const importFile = async (p) => {
      if (!exists(p)) return undefined;
      installEsmLayerHook(taskRoot);
      return import(pathToFileURL(p).href);
    };

    const exact = requireFile(base);
    if (exact) return exact;
    const esm = nearestPackageIsModule(path.dirname(base));
    if (!esm) {
      const cjs = requireFile(base + '.js');
      if (cjs) return cjs;
    }
    const ts = nodeMajor >= 24;
    const found =
      (esm && (await importFile(base + '.js'))) ||
      (await importFile(base + '.mjs')) ||
      requireFile(base + '.cjs') ||
      (ts && !esm && requireFile(base + '.ts')) ||
      (ts && esm && (await importFile(base + '.ts'))) ||
      (ts && (await importFile(base + '.mts'))) ||
      (ts && requireFile(base + '.cts'));
    if (found) return found;
    return req(req.resolve(moduleName, { paths: [taskRoot, moduleRoot] }));
  }

  async function loadHandler(taskRoot, fullHandler) {
    if (fullHandler.includes('..')) {
      throw new MalformedHandlerName(
        `'${fullHandler}' is not a valid handler name. Use absolute paths when specifying root directories in handler names.`,
      );
    }
    const slash = fullHandler.lastIndexOf('/');
    const moduleRoot = fullHandler.slice(0, slash + 1);
    const moduleAndPath = fullHandler.slice(slash + 1);
    const dot = moduleAndPath.indexOf('.');
    if (dot < 0) throw new MalformedHandlerName('Bad handler');
    const moduleName = moduleAndPath.slice(0, dot);
    const propertyPath = moduleAndPath.slice(dot + 1);

    let userModule;
    try {
      userModule = await loadUserModule(taskRoot, moduleRoot, moduleName);
    } catch (err) {
      if (err instanceof SyntaxError) throw new UserCodeSyntaxError(err);
      if (err && err.code === 'MODULE_NOT_FOUND') throw new ImportModuleError(err);
      throw err;
    }

    const fn = propertyPath.split('.').reduce((obj, key) => obj && obj[key], userModule);
    if (!fn) throw new HandlerNotFound(`${fullHandler} is undefined or not exported`);
    if (typeof fn !== 'function') throw new HandlerNotFound(`${fullHandler} is not a function`);
    return fn;
  }

  // ---------------------------------------------------------------------------
  // awslambda global: response streaming.

  const STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
  const HIGH_WATER_MARK = Symbol.for('aws.lambda.runtime.handler.streaming.highWaterMark');
  const HTTP_INTEGRATION_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';

  class HttpResponseStream {
    static from(stream, prelude) {
      stream.setContentType(HTTP_INTEGRATION_CONTENT_TYPE);
      stream.write(JSON.stringify(prelude));
      stream.write(Buffer.alloc(8));
      return stream;
    }
  }

  if (env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== '1' && env.AWS_LAMBDA_NODEJS_NO_GLOBAL_AWSLAMBDA !== 'true') {
    globalThis.awslambda = {
      streamifyResponse(handler, options) {
        handler[STREAMING] = 'response';
        if (options && typeof options.highWaterMark === 'number') {
          handler[HIGH_WATER_MARK] = parseInt(options.highWaterMark, 10);
        }
        return handler;
      },
      HttpResponseStream,
    };
  }

  function handlerMetadata(fn) {
    const mode = fn[STREAMING];
    if (mode !== undefined && mode !== null && mode !== false && mode !== 'response') {
      throw new MalformedStreamingHandler('Only response streaming is supported.');
    }
    let isAsync = false;
    try {
      isAsync = Boolean(fn.constructor && fn.constructor.name === 'AsyncFunction');
    } catch (_) {
      // leave false
    }
    const hwm = parseInt(fn[HIGH_WATER_MARK], 10);
    return {
      streaming: mode === 'response',
      highWaterMark: Number.isNaN(hwm) ? undefined : hwm,
      isAsync,
      argsNum: fn.length,
    };
  }

  // A writable whose bytes go to the Runtime API as one chunked streaming
  // response. The POST starts with the first write (so the content type can
  // still be set until then).
  function responseStream(id, highWaterMark) {
    let request = null;
    let contentType = 'application/octet-stream';
    let settled;
    const done = new Promise((resolve) => (settled = resolve));
    const open = () => {
      if (request) return request;
      request = http.request({
        host: apiHost,
        port: apiPort,
        method: 'POST',
        path: `${API_PREFIX}/runtime/invocation/${encodeURIComponent(id)}/response`,
        agent,
        headers: {
          'Content-Type': contentType,
          'Lambda-Runtime-Function-Response-Mode': 'streaming',
          'Transfer-Encoding': 'chunked',
          Trailer: `${ERROR_TYPE_HEADER}, ${ERROR_BODY_TRAILER}`,
        },
      });
      request.on('response', (res) => {
        res.resume();
        res.on('end', () => settled(res.statusCode));
      });
      request.on('error', (err) => settled(err));
      return request;
    };
    const stream = new Writable({
      highWaterMark,
      // Each write is handed to the request at once (it goes out as a chunk
      // of its own); the stream holds further writes back only while the
      // connection does.
      write(chunk, encoding, callback) {
        const r = open();
        if (r.write(chunk, encoding)) callback();
        else r.once('drain', () => callback());
      },
      final(callback) {
        open().end();
        callback();
      },
    });
    stream.setContentType = (value) => {
      if (request) throw new InvalidStreamingOperation('Cannot set content-type, too late.');
      contentType = value;
    };
    return {
      stream,
      started: () => request !== null,
      done,
      // Fails a stream already under way: what the handler wrote before
      // failing goes out first, then the error in the trailers.
      async failInTrailers(err) {
        const payload = errorPayload(err);
        const r = open();
        while (stream.writableLength > 0 && !r.destroyed && !r.writableEnded) {
          await new Promise((resolve) => {
            r.once('drain', resolve);
            r.once('close', resolve);
          });
        }
        if (!r.writableEnded) {
          r.addTrailers({
            [ERROR_TYPE_HEADER]: headerSafe(payload.errorType),
            [ERROR_BODY_TRAILER]: Buffer.from(JSON.stringify(payload)).toString('base64'),
          });
          r.end();
        }
        return done;
      },
    };
  }

  // ---------------------------------------------------------------------------
  // Context object.

  function parseJsonHeader(value, name) {
    if (value === undefined) return undefined;
    try {
      return JSON.parse(value);
    } catch (err) {
      throw new Error(`Cannot parse ${name} as json: ${err.toString()}`);
    }
  }

  function attachInvocationData(target, headers) {
    const deadline = headers['lambda-runtime-deadline-ms'];
    return Object.assign(
      target,
      {
        functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
        functionName: env.AWS_LAMBDA_FUNCTION_NAME,
        memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
        logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
        logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      },
      {
        clientContext: parseJsonHeader(headers['lambda-runtime-client-context'], 'ClientContext'),
        identity: parseJsonHeader(headers['lambda-runtime-cognito-identity'], 'CognitoIdentity'),
        invokedFunctionArn: headers['lambda-runtime-invoked-function-arn'],
        awsRequestId: headers['lambda-runtime-aws-request-id'],
        tenantId: headers['lambda-runtime-aws-tenant-id'],
        getRemainingTimeInMillis() {
          return deadline - Date.now();
        },
      },
    );
  }

  function isThenable(v) {
    return Boolean(v) && typeof v.then === 'function';
  }

  // ---------------------------------------------------------------------------
  // The invocation loop.

  function scheduleNext() {
    if (state.exiting) return;
    setImmediate(() => {
      if (state.exiting) return;
      runOnce().catch((err) => {
        console.log(`Unexpected Top Level Error: ${err && err.toString()}`);
        crash(err, EXIT_UNCAUGHT);
      });
    });
  }

  let handler;
  let metadata;

  async function runOnce() {
    const { headers, body } = await nextInvocation();
    if (state.exiting) return undefined;
    const id = headers['lambda-runtime-aws-request-id'];
    if (!id) fatal('invocation without Lambda-Runtime-Aws-Request-Id');
    state.invokeId = id;
    state.reported = false;
    setLogContext(id, headers['lambda-runtime-aws-tenant-id']);
    const trace = headers['lambda-runtime-trace-id'];
    if (trace) env._X_AMZN_TRACE_ID = trace;
    else delete env._X_AMZN_TRACE_ID;

    if (metadata.streaming) return invokeStreaming(id, headers, body);
    if (PROMISE_ONLY) return invokePromise(id, headers, body);
    return invokeClassic(id, headers, body);
  }

  function finishWithResponse(id, result) {
    state.reported = true;
    onEmptyEventLoop = null;
    postInvocationResponse(id, result).then(scheduleNext);
  }

  function finishWithError(id, err) {
    state.reported = true;
    onEmptyEventLoop = null;
    logError('Invoke Error', err);
    postInvocationError(id, err).then(scheduleNext);
  }

  // nodejs18.x – nodejs22.x: callback, context.done/succeed/fail and promises.
  function invokeClassic(id, headers, body) {
    let waitForEmptyEventLoop = true;
    let completed = false;
    let finished = false;

    const complete = (result) => {
      if (completed) {
        console.error(
          'Invocation has already been reported as done. Cannot call complete more than once per invocation.',
        );
        return;
      }
      completed = true;
      finishWithResponse(id, result);
    };
    const fail = (err) => finishWithError(id, err);

    const rawCallback = (err, result) => {
      onEmptyEventLoop = null;
      if (err !== undefined && err !== null) fail(err);
      else if (!waitForEmptyEventLoop) complete(result);
      else {
        onEmptyEventLoop = () => {
          onEmptyEventLoop = null;
          setImmediate(() => complete(result));
        };
      }
    };
    const rawDone = (err, result) => {
      onEmptyEventLoop = null;
      if (err !== undefined && err !== null) fail(err);
      else complete(result);
    };
    // Only the first of callback / done / succeed / fail counts.
    const firstOnly =
      (fn) =>
      (...args) => {
        if (finished) return;
        fn(...args);
        finished = true;
      };
    const callback = firstOnly(rawCallback);
    const context = {
      get callbackWaitsForEmptyEventLoop() {
        return waitForEmptyEventLoop;
      },
      set callbackWaitsForEmptyEventLoop(value) {
        waitForEmptyEventLoop = value;
      },
      succeed: firstOnly((result) => rawDone(null, result)),
      fail: firstOnly((err) => (err === undefined || err === null ? rawDone('handled') : rawDone(err, null))),
      done: firstOnly(rawDone),
    };

    // Nobody answered by the time the event loop ran dry: a sync handler that
    // never called back answers null; an async one never settled its promise.
    onEmptyEventLoop = () => {
      onEmptyEventLoop = null;
      completed = true;
      if (metadata.isAsync) fail(new NodeJsExit());
      else finishWithResponse(id, null);
    };

    try {
      const event = JSON.parse(body);
      const result = handler(event, attachInvocationData(context, headers), callback);
      if (isThenable(result)) {
        result.then(context.succeed, context.fail).catch(context.fail);
      }
    } catch (err) {
      callback(err);
    }
  }

  // nodejs24.x and later: the handler's promise (or value) is the answer.
  async function invokePromise(id, headers, body) {
    onEmptyEventLoop = () => fail(new NodeJsExit());
    let settledFlag = false;
    function fail(err) {
      if (settledFlag) return;
      settledFlag = true;
      finishWithError(id, err);
    }
    let result;
    try {
      const event = JSON.parse(body);
      result = await handler(event, attachInvocationData({}, headers));
    } catch (err) {
      fail(err);
      return;
    }
    if (settledFlag) return;
    settledFlag = true;
    finishWithResponse(id, result);
  }

  async function invokeStreaming(id, headers, body) {
    const out = responseStream(id, metadata.highWaterMark);
    let over = false;
    const failStream = async (err) => {
      if (over) return;
      over = true;
      state.reported = true;
      onEmptyEventLoop = null;
      logError('Invoke Error', err);
      if (out.started()) await out.failInTrailers(err);
      else await postInvocationError(id, err);
      scheduleNext();
    };
    onEmptyEventLoop = () => failStream(out.stream.writableEnded ? new NodeJsExit() : 'Response stream is not finished.');
    try {
      const event = JSON.parse(body);
      const result = handler(event, out.stream, attachInvocationData({}, headers));
      if (!isThenable(result)) {
        await failStream('Streaming does not support non-async handlers.');
        return;
      }
      const value = await result;
      if (value !== undefined) console.warn('Streaming handlers ignore return values.');
      if (!out.stream.writableEnded) {
        await failStream('Response stream is not finished.');
        return;
      }
      await new Promise((resolve) =>
        out.stream.writableFinished ? resolve() : out.stream.once('finish', resolve),
      );
      await out.done;
      if (over) return;
      over = true;
      state.reported = true;
      onEmptyEventLoop = null;
      scheduleNext();
    } catch (err) {
      await failStream(err);
    }
  }

  // ---------------------------------------------------------------------------
  // Init.

  patchConsole();
  const taskRoot = configureModulePaths();
  const handlerName = env._HANDLER || '';
  try {
    handler = await loadHandler(taskRoot, handlerName);
    metadata = handlerMetadata(handler);
    if (PROMISE_ONLY && metadata.argsNum >= 3 && !metadata.streaming) {
      throw new CallbackHandlerDeprecated(
        'ERROR: AWS Lambda has removed support for callback-based function handlers starting with ' +
          'Node.js 24. You need to modify this function to use a supported handler signature to use ' +
          'Node.js 24 or later. For more information see https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html.',
      );
    }
    if (
      runtimeMajor === 22 &&
      env.AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING === undefined &&
      metadata.argsNum === 3 &&
      !metadata.isAsync &&
      !metadata.streaming
    ) {
      console.warn(
        'AWS Lambda plans to remove support for callback-based function handlers starting with Node.js 24. ' +
          'You will need to update this function to use an async handler to use Node.js 24 or later. ' +
          'To disable this warning, set the AWS_LAMBDA_NODEJS_DISABLE_CALLBACK_WARNING environment variable.',
      );
    }
  } catch (err) {
    logError('Uncaught Exception', err);
    crash(err, EXIT_UNCAUGHT);
    return;
  }
  scheduleNext();
})(typeof require === 'function' ? require : undefined);
