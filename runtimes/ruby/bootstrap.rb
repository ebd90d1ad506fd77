# frozen_string_literal: true

# Ignis's runtime client for Lambda's managed Ruby runtimes (ruby3.2 to
# ruby3.4).
#
# Ignis starts one per execution environment, as
#
#     ruby <dir>/bootstrap.rb
#
# with the function's code directory as working directory and Lambda's
# environment (AWS_LAMBDA_RUNTIME_API, _HANDLER, LAMBDA_TASK_ROOT,
# AWS_LAMBDA_FUNCTION_*, AWS_LAMBDA_LOG_*, AWS_EXECUTION_ENV, IGNIS_OPT_DIR,
# ...). It puts the code and the layers on $LOAD_PATH and the gem path as
# Lambda's Ruby runtime does, requires the handler's file once, then loops
# over the Runtime API: GET .../invocation/next, call the handler with
# `event:` and `context:`, POST .../response or .../error.
#
# What Lambda's Ruby runtime does, and so does this client:
# - `_HANDLER` is `file.method` or `file.Module::Class.method`; the file is
#   required from the task root; a failure there (LoadError, an exception in
#   the file's top-level code, a malformed handler) is an init error of type
#   `Init<ExceptionClass>`, reported to .../init/error, and the process exits.
# - An exception from the handler is reported as `Function<ExceptionClass>`
#   with its message and backtrace. NoMethodError, NameError (which is how a
#   missing handler method or class shows) and exceptions that are not
#   StandardErrors are critical: reported, then the process exits and the
#   next invocation gets a fresh environment.
# - The return value is serialized with `to_json`; a StringIO or IO is sent
#   as it reads, with Content-Type application/unknown.
# - `Logger.new($stdout)` (or $stderr) writes Lambda's line format, with the
#   request id, or Lambda's JSON format when AWS_LAMBDA_LOG_FORMAT is JSON,
#   at AWS_LAMBDA_LOG_LEVEL.
#
# Standard library only. The Runtime API is spoken over one persistent
# HTTP/1.1 connection by a small client of its own: `net/http` adds about
# 30 ms to every cold start.

require 'json'
require 'socket'
require 'logger'

# Started held (Ignis's prestarted runtimes, --prewarm): the interpreter and
# this client start before the function is known, with only the variables
# start-up reads. The rest of the environment is read from the descriptor
# named -- `KEY=value` entries, NUL-terminated, to its end -- and completes
# this process's environment, as if it had been started with it. That
# descriptor is stdin, which then reads /dev/null, as a runtime's does.
if (held_fd = ENV['_IGNIS_SPECIALIZE_FD'])
  held = IO.for_fd(held_fd.to_i, autoclose: false)
  held.binmode
  entries = held.read.split("\0")
  held.reopen('/dev/null', 'r')
  # The held start-up's variables are the function's own, with their
  # values: the rest is added.
  ENV.delete('_IGNIS_SPECIALIZE_FD')
  entries.each do |entry|
    key, sep, value = entry.partition('=')
    ENV[key] = value unless key.empty? || sep.empty?
  end
  Dir.chdir(ENV['LAMBDA_TASK_ROOT'] || '/var/task')
end

$stdout.sync = true
$stderr.sync = true

# The handler's second argument, with the attributes and methods of Lambda's.
class LambdaContext
  attr_reader :aws_request_id, :invoked_function_arn, :log_group_name,
              :log_stream_name, :function_name, :memory_limit_in_mb,
              :function_version, :identity, :client_context, :deadline_ms,
              :tenant_id

  def initialize(headers)
    @deadline_ms = headers['lambda-runtime-deadline-ms'].to_i
    @aws_request_id = headers['lambda-runtime-aws-request-id']
    @invoked_function_arn = headers['lambda-runtime-invoked-function-arn']
    @tenant_id = headers['lambda-runtime-aws-tenant-id']
    @log_group_name = ENV['AWS_LAMBDA_LOG_GROUP_NAME']
    @log_stream_name = ENV['AWS_LAMBDA_LOG_STREAM_NAME']
    @function_name = ENV['AWS_LAMBDA_FUNCTION_NAME']
    @memory_limit_in_mb = ENV['AWS_LAMBDA_FUNCTION_MEMORY_SIZE']
    @function_version = ENV['AWS_LAMBDA_FUNCTION_VERSION']
    identity = headers['lambda-runtime-cognito-identity']
    client_context = headers['lambda-runtime-client-context']
    @identity = JSON.parse(identity) if identity && !identity.empty?
    @client_context = JSON.parse(client_context) if client_context && !client_context.empty?
  end

  def get_remaining_time_in_millis
    remaining = @deadline_ms - Process.clock_gettime(Process::CLOCK_REALTIME, :millisecond)
    remaining.positive? ? remaining : 0
  end
end

module IgnisRuntime
  PREFIX = '/2018-06-01/runtime'
  HERE = File.expand_path(__FILE__)

  # ------------------------------------------------------------------------
  # Logs: stdout, which Ignis reads line by line.
  # ------------------------------------------------------------------------

  LOG_LEVELS = {
    'TRACE' => Logger::DEBUG,
    'DEBUG' => Logger::DEBUG,
    'INFO' => Logger::INFO,
    'WARN' => Logger::WARN,
    'ERROR' => Logger::ERROR,
    'FATAL' => Logger::FATAL
  }.freeze

  class << self
    attr_accessor :request_id

    def json_logs?
      ENV.fetch('AWS_LAMBDA_LOG_FORMAT', '').upcase == 'JSON'
    end

    def log_level
      LOG_LEVELS[ENV.fetch('AWS_LAMBDA_LOG_LEVEL', '').upcase]
    end
  end

  def self.utf8(value)
    s = value.to_s
    s = s.dup.force_encoding(Encoding::UTF_8) if s.encoding == Encoding::BINARY
    s.encode(Encoding::UTF_8, invalid: :replace, undef: :replace, replace: "\uFFFD")
  end

  # Lambda's text line:
  # `I, [2024-01-01T00:00:00.123456 #42]  INFO <request id> -- <progname>: <message>`
  class TextFormatter < Logger::Formatter
    def call(severity, time, progname, msg)
      line = format('%<s>s, [%<t>s #%<pid>d] %<sev>5s %<rid>s -- %<prog>s: %<msg>s',
                    s: severity[0, 1], t: format_datetime(time), pid: Process.pid,
                    sev: severity, rid: IgnisRuntime.request_id, prog: progname,
                    msg: msg2str(msg))
      "#{IgnisRuntime.utf8(line)}\n"
    end
  end

  # Lambda's JSON record, one line each.
  class JsonFormatter < Logger::Formatter
    def call(severity, time, progname, msg)
      record = {
        timestamp: time.utc.strftime('%Y-%m-%dT%H:%M:%S.%6NZ'),
        level: severity,
        message: IgnisRuntime.utf8(msg.is_a?(Exception) ? msg.message : msg2str(msg)),
        requestId: IgnisRuntime.request_id
      }
      logger = progname.nil? ? nil : IgnisRuntime.utf8(progname)
      record[:logger] = logger unless logger.nil? || logger.empty?
      if msg.is_a?(Exception)
        record[:errorType] = msg.class.to_s
        record[:errorMessage] = IgnisRuntime.utf8(msg.message)
        record[:stackTrace] = Array(msg.backtrace).map { |l| IgnisRuntime.utf8(l) }
        first = record[:stackTrace].first
        if first
          m = first.match(/\A(?<file>.+):(?<line>\d+):in [`'](?<method>.+)'\z/)
          record[:location] = m ? "#{m[:file]}:#{m[:method]}:#{m[:line]}" : first
        end
      end
      "#{JSON.generate(record.compact)}\n"
    end
  end

  # Loggers on $stdout and $stderr get Lambda's format and level.
  module LoggerPatch
    def initialize(logdev, shift_age = 0, shift_size = 1_048_576, **kwargs)
      if logdev.nil? || [$stdout, $stderr, STDOUT, STDERR].any? { |io| logdev.equal?(io) }
        kwargs[:formatter] ||= IgnisRuntime.json_logs? ? JsonFormatter.new : TextFormatter.new
        level = IgnisRuntime.log_level
        kwargs[:level] = level if level && !kwargs.key?(:level)
      end
      super(logdev, shift_age, shift_size, **kwargs)
    end
  end

  def self.write_log(text)
    text = utf8(text)
    text += "\n" unless text.end_with?("\n")
    $stdout.write(text)
  rescue StandardError
    nil
  end

  # What Lambda's runtime logs before it reports an error.
  def self.log_error(message, doc)
    if json_logs?
      record = {
        timestamp: Time.now.utc.strftime('%Y-%m-%dT%H:%M:%S.%6NZ'),
        level: 'ERROR',
        message: message,
        errorType: doc[:errorType],
        errorMessage: doc[:errorMessage],
        stackTrace: doc[:stackTrace],
        requestId: request_id
      }
      write_log(JSON.generate(record.compact))
    else
      write_log("#{message}\n#{JSON.pretty_generate(doc)}")
    end
  end

  # ------------------------------------------------------------------------
  # Errors
  # ------------------------------------------------------------------------

  # Classes Lambda names in the Lambda-Runtime-Function-Error-Type header;
  # any other is `Function<UserException>` there (the body has the class).
  HEADER_CLASSES = %w[ArgumentError NoMethodError Exception StandardError NameError
                      LoadError SystemExit SystemStackError].freeze

  # [document, header error type] for `exc`, classified `Function`, `Init` or
  # `Runtime` as Lambda does.
  def self.error_document(exc, classification)
    name = exc.class.name || exc.class.to_s
    doc = {
      errorMessage: utf8(safe_message(exc)),
      errorType: "#{classification}<#{name}>",
      stackTrace: stack_trace(exc)
    }
    header = HEADER_CLASSES.include?(name) ? doc[:errorType] : 'Function<UserException>'
    [doc, header]
  end

  # The message without error_highlight's snippet and did_you_mean's
  # suggestions: from Ruby 3.2 on they are in #detailed_message only, as on
  # Lambda; before, #original_message is the plain one.
  def self.safe_message(exc)
    if !exc.respond_to?(:detailed_message) && exc.respond_to?(:original_message)
      exc.original_message
    else
      exc.message
    end
  rescue Exception # rubocop:disable Lint/RescueException
    exc.class.to_s
  end

  # The exception's frames in user code: up to the first frame of this file,
  # without the `require` frames around them.
  def self.stack_trace(exc)
    locations = exc.backtrace_locations
    frames =
      if locations
        locations.map { |l| [l.absolute_path || l.path, l.to_s] }
      else
        Array(exc.backtrace).map { |l| [l.split(':', 2).first, l] }
      end
    out = []
    frames.each do |path, text|
      break if path == HERE

      out << text
    end
    out.shift while out.first && require_frame?(out.first)
    out.pop while out.last && require_frame?(out.last)
    out.first(100).map { |l| utf8(l) }
  end

  def self.require_frame?(line)
    line.start_with?('<internal:') || line.include?('rubygems/core_ext/kernel_require.rb')
  end

  # ------------------------------------------------------------------------
  # The Runtime API over one persistent HTTP/1.1 connection
  # ------------------------------------------------------------------------

  class ApiError < StandardError; end
  class Closed < IOError; end

  Response = Struct.new(:status, :headers, :body)

  class Api
    def initialize(address)
      @address = address
      host, sep, port = address.rpartition(':')
      host, port = address, '80' if sep.empty? || port !~ /\A\d+\z/
      host = host.delete('[]')
      @host = host.empty? ? '127.0.0.1' : host
      @port = port.to_i
      @sock = nil
      @agent = "ignis-ruby/#{RUBY_VERSION}"
    end

    def close
      @sock&.close
    rescue StandardError
      nil
    ensure
      @sock = nil
    end

    def request(method, path, body = nil, headers = {})
      head = +"#{method} #{PREFIX}#{path} HTTP/1.1\r\nHost: #{@address}\r\nUser-Agent: #{@agent}\r\n"
      head << "Content-Length: #{body.bytesize}\r\n" if body
      headers.each { |k, v| head << "#{k}: #{v}\r\n" }
      head << "\r\n"
      data = head.b
      data << body.b if body && !body.empty?
      failure = nil
      2.times do
        reused = !@sock.nil?
        begin
          connect unless reused
          begin
            @sock.write(data)
          rescue SystemCallError, IOError => e
            # The server may have answered (a 413) and closed before reading
            # the whole body: its answer is what counts.
            begin
              return read_response
            rescue StandardError
              raise e
            end
          end
          return read_response
        rescue SystemCallError, IOError, SocketError, ApiError => e
          close
          failure = e
          # A kept-alive connection the server dropped while idle: once, try
          # again on a new one.
          break unless reused && !e.is_a?(ApiError)
        end
      end
      raise ApiError, "#{method} #{PREFIX}#{path} failed: #{failure.message}"
    end

    def next_invocation
      resp = request('GET', '/invocation/next')
      return resp if resp.status == 200

      raise ApiError, "GET /invocation/next answered #{resp.status}: #{snippet(resp.body)}"
    end

    def post_response(request_id, body, content_type)
      post("/invocation/#{request_id}/response", body, 'Content-Type' => content_type)
    end

    def post_error(request_id, doc, header_type)
      post("/invocation/#{request_id}/error", JSON.generate(doc), error_headers(header_type))
    end

    def post_init_error(doc, header_type)
      post('/init/error', JSON.generate(doc), error_headers(header_type))
    end

    private

    def connect
      sock = TCPSocket.new(@host, @port)
      begin
        sock.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      rescue StandardError
        nil
      end
      sock.binmode
      sock.sync = true
      @sock = sock
    end

    def snippet(body)
      IgnisRuntime.utf8(body.byteslice(0, 1000))
    end

    def error_headers(header_type)
      type = header_type.to_s.encode('ASCII', invalid: :replace, undef: :replace, replace: '?')
      { 'Content-Type' => 'application/json',
        'Lambda-Runtime-Function-Error-Type' => type.tr("\r\n", '  ') }
    end

    def post(path, body, headers)
      resp = request('POST', path, body, headers)
      return if resp.status == 202

      message = "POST #{PREFIX}#{path} answered #{resp.status}: #{snippet(resp.body)}"
      # Container error: non-recoverable, the runtime should exit.
      raise ApiError, message if resp.status >= 500

      # 4xx (an oversized response, an invocation answered already): the
      # platform reports it to the caller; this environment carries on.
      warn "ignis: #{message}" unless resp.status == 413
    end

    def read_line
      line = @sock.gets("\r\n", 1 << 20)
      raise Closed, 'the Runtime API closed the connection' if line.nil?
      raise ApiError, 'malformed response from the Runtime API' unless line.end_with?("\r\n")

      line.chomp("\r\n")
    end

    def read_exactly(n)
      data = n.zero? ? +'' : @sock.read(n)
      raise Closed, 'the Runtime API closed the connection' if data.nil? || data.bytesize < n

      data
    end

    def read_response
      status = nil
      version = nil
      headers = {}
      loop do
        version, code, = read_line.split(' ', 3)
        raise ApiError, 'malformed status line' unless version&.start_with?('HTTP/') && code =~ /\A\d+\z/

        status = code.to_i
        headers = {}
        while (line = read_line) != ''
          name, value = line.split(':', 2)
          headers[name.strip.downcase] = IgnisRuntime.utf8(value.to_s.strip)
        end
        break unless status >= 100 && status < 200
      end
      keep_alive = version != 'HTTP/1.0'
      conn = headers.fetch('connection', '').downcase
      if conn.include?('close')
        keep_alive = false
      elsif conn.include?('keep-alive')
        keep_alive = true
      end
      body =
        if headers.fetch('transfer-encoding', '').downcase.include?('chunked')
          read_chunked
        elsif headers.key?('content-length')
          read_exactly(headers['content-length'].to_i)
        elsif [204, 304].include?(status)
          +''
        else
          keep_alive = false
          @sock.read || +''
        end
      close unless keep_alive
      Response.new(status, headers, body)
    end

    def read_chunked
      body = +''.b
      loop do
        size = read_line.split(';', 2).first.strip.to_i(16)
        if size.zero?
          loop { break if read_line.empty? } # trailers
          return body
        end
        body << read_exactly(size)
        read_line
      end
    end
  end

  # ------------------------------------------------------------------------
  # Search paths: the code, the layers, vendored gems, as on Lambda
  # ------------------------------------------------------------------------

  def self.setup_paths(task_root, opt)
    versions = [RbConfig::CONFIG['ruby_version']]
    # The version the function was built for, when Ignis runs the nearest
    # installed one: pure-Ruby gems vendored for it still load.
    declared = ENV.fetch('AWS_EXECUTION_ENV', '')[/\AAWS_Lambda_ruby(\d+\.\d+)\z/, 1]
    versions << "#{declared}.0" if declared
    versions.uniq!

    # The host's site_ruby is not the function's (Lambda has none).
    site = %w[sitedir sitelibdir sitearchdir].map { |k| RbConfig::CONFIG[k] }.compact
    $LOAD_PATH.reject! do |p|
      path = p.to_s
      site.any? { |s| path == s || path.start_with?("#{s}/") } || path.include?('/site_ruby')
    end
    lib = File.join(opt, 'ruby', 'lib')
    [lib, task_root].each do |p|
      $LOAD_PATH.delete(p)
      $LOAD_PATH.unshift(p)
    end

    # Gems: the code's vendor/bundle, the layers', then Ruby's own (its
    # default and bundled gems), not the host's installed ones.
    vendor = versions.map { |v| File.join(task_root, 'vendor', 'bundle', 'ruby', v) }
    layers = versions.map { |v| File.join(opt, 'ruby', 'gems', v) }
    own = ruby_gem_dirs
    paths = (vendor + layers + own).uniq
    home = own.first || Gem.default_dir
    Gem.use_paths(home, paths)
    Gem::Specification.reset
    ENV['GEM_PATH'] = paths.join(File::PATH_SEPARATOR)
    ENV['GEM_HOME'] = home
    ENV['RUBYLIB'] ||= [task_root, lib].join(File::PATH_SEPARATOR)
  rescue StandardError => e
    warn "ignis: setting up the gem path failed: #{e.message}"
  end

  def self.ruby_gem_dirs
    version = RbConfig::CONFIG['ruby_version']
    dirs = []
    if Gem.respond_to?(:default_specifications_dir)
      dirs << File.dirname(File.dirname(Gem.default_specifications_dir))
    end
    dirs << File.join(RbConfig::CONFIG['rubylibprefix'], 'gems', version) if RbConfig::CONFIG['rubylibprefix']
    if RbConfig::CONFIG['archlibdir']
      dirs << File.join(RbConfig::CONFIG['archlibdir'], 'ruby', 'gems', version)
    end
    dirs.uniq.select { |d| File.directory?(d) }
  end

  # ------------------------------------------------------------------------
  # The handler
  # ------------------------------------------------------------------------

  class Handler
    attr_reader :file

    def initialize(spec)
      parts = spec.split('.')
      case parts.size
      when 2 then @file, @method = parts
      when 3 then @file, @class_name, @method = parts
      else
        raise ArgumentError, "Invalid handler #{parts}, must be of form FILENAME.METHOD or " \
                             'FILENAME.CLASS.METHOD where FILENAME corresponds with an existing ' \
                             'Ruby source file FILENAME.rb, CLASS is an optional module/class ' \
                             'namespace and METHOD is a callable method. If using CLASS, METHOD ' \
                             'must be a class-level method.'
      end
    end

    def call(event, context)
      target = @class_name ? Object.const_get(@class_name) : TOPLEVEL_BINDING.receiver
      target.__send__(@method, event: event, context: context)
    end
  end

  # [body, content type] of a handler's return value.
  def self.marshal(result)
    if (defined?(StringIO) && result.is_a?(StringIO)) || result.is_a?(IO)
      [result.read.to_s, 'application/unknown']
    else
      [result.to_json, 'application/json']
    end
  end

  def self.unmarshal(resp)
    type = resp.headers.fetch('content-type', 'application/json').split(';', 2).first.strip.downcase
    return resp.body unless type.empty? || type == 'application/json'

    JSON.parse(resp.body.force_encoding(Encoding::UTF_8))
  end

  def self.set_trace_id(trace_id)
    if trace_id && !trace_id.empty?
      ENV['_X_AMZN_TRACE_ID'] = trace_id
    else
      ENV.delete('_X_AMZN_TRACE_ID')
    end
  end

  def self.fatal(message)
    warn "ignis: #{message}"
    exit(1)
  end

  # ------------------------------------------------------------------------
  # Start-up and the invocation loop
  # ------------------------------------------------------------------------

  def self.main
    task_root = ENV['LAMBDA_TASK_ROOT'].to_s
    task_root = Dir.pwd if task_root.empty?
    opt = ENV['IGNIS_OPT_DIR'].to_s
    opt = '/opt' if opt.empty?
    setup_paths(task_root, opt)
    Logger.prepend(LoggerPatch)

    address = ENV['AWS_LAMBDA_RUNTIME_API'].to_s
    api = Api.new(address.empty? ? '127.0.0.1:9001' : address)
    spec = ENV['_HANDLER'].to_s

    handler = nil
    begin
      handler = Handler.new(spec)
      require handler.file
    rescue Exception => e # rubocop:disable Lint/RescueException
      # LoadError, SyntaxError, or anything the file's top-level code raised
      doc, header = error_document(e, 'Init')
      log_error("Init error when loading handler #{spec}", doc)
      begin
        api.post_init_error(doc, header)
      rescue ApiError => e2
        warn "ignis: #{e2.message}"
      end
      exit(-4)
    end

    loop do
      resp =
        begin
          api.next_invocation
        rescue ApiError => e
          fatal(e.message)
        end
      begin
        invoke(api, handler, resp)
      rescue ApiError => e
        fatal(e.message)
      end
    end
  end

  def self.invoke(api, handler, resp)
    request_id = resp.headers['lambda-runtime-aws-request-id'].to_s
    self.request_id = request_id
    $_global_aws_request_id = request_id # rubocop:disable Style/GlobalVars
    set_trace_id(resp.headers['lambda-runtime-trace-id'])

    begin
      event = unmarshal(resp)
      context = LambdaContext.new(resp.headers)
    rescue StandardError => e
      doc, header = error_document(e, 'Runtime')
      log_error('Error parsing the invocation', doc)
      return api.post_error(request_id, doc, header)
    end

    critical = false
    begin
      body, content_type = marshal(handler.call(event, context))
    rescue NoMethodError, NameError => e
      failure = e
      critical = true
    rescue StandardError => e
      failure = e
    rescue Exception => e # rubocop:disable Lint/RescueException
      failure = e
      critical = true
    end

    unless failure
      api.post_response(request_id, body, content_type)
      return
    end

    doc, header = error_document(failure, 'Function')
    log_error(critical ? 'Critical exception from handler' : 'Error raised from handler method', doc)
    api.post_error(request_id, doc, header)
    # As Lambda: the environment does not survive a critical exception.
    exit(-1) if critical
  end
end

IgnisRuntime.main if $PROGRAM_NAME == __FILE__ || File.expand_path($PROGRAM_NAME) == IgnisRuntime::HERE
