package dev.otelytics.interop;

import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.common.AttributesBuilder;
import io.opentelemetry.api.logs.LogRecordBuilder;
import io.opentelemetry.api.logs.Logger;
import io.opentelemetry.api.logs.Severity;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.http.logs.OtlpHttpLogRecordExporter;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.logs.SdkLoggerProvider;
import io.opentelemetry.sdk.logs.SdkLoggerProviderBuilder;
import io.opentelemetry.sdk.logs.export.BatchLogRecordProcessor;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.SdkTracerProviderBuilder;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The checkout service of the demo shop, instrumented with the OpenTelemetry Java SDK, driven
 * through a short fixed session for scripts/interop/capture.mjs: SERVER spans as an HTTP server
 * instrumentation records them, an INTERNAL span for the payment, and analytics events as log
 * records with an event name inside the request's span, the last one (wishlist.item_added) with no
 * Timestamp, as an app that gives no time emits it. Every span and record goes through two
 * OTLP/HTTP protobuf exporters, one uncompressed and one gzip, and is exported in one forced flush.
 * Ids come from a seeded generator and every time is given explicitly (the untimed record's
 * ObservedTimestamp too), so each run sends the same data.
 *
 * <pre>java -cp 'classes:lib/*' dev.otelytics.interop.Shop http://127.0.0.1:4318</pre>
 */
public final class Shop {
  private static final AttributeKey<List<String>> STRINGS_USER_ID = AttributeKey.stringArrayKey("http.request.header.x-user-id");
  private static final AttributeKey<List<String>> STRINGS_SESSION_ID = AttributeKey.stringArrayKey("http.request.header.x-session-id");

  /** Trace and span ids from SHA-256 of a seed and a counter: random-looking, the same on every run. */
  static final class SeededIds implements IdGenerator {
    private long n;

    private synchronized String next(int bytes) {
      try {
        byte[] h = MessageDigest.getInstance("SHA-256").digest(("otelytics-java-shop:" + n++).getBytes(StandardCharsets.UTF_8));
        return HexFormat.of().formatHex(h, 0, bytes);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(e);
      }
    }

    @Override
    public String generateSpanId() {
      return next(8);
    }

    @Override
    public String generateTraceId() {
      return next(16);
    }
  }

  record Visitor(String ip, String session, String userAgent, String user, Boolean analyticsConsent) {}

  // One tracer: the SDK's OTLP encoding orders a resource's scopes by identity hash, which would
  // make two scopes come out in either order from run to run.
  private final Tracer tracer;
  private final Logger events;
  /** The session's clock, nanoseconds since the epoch: it moves only when the session says so. */
  private long now = 1_795_601_100_000_000_000L; // 2026-11-25T10:05:00Z

  private Shop(Tracer tracer, Logger events) {
    this.tracer = tracer;
    this.events = events;
  }

  private long advance(double millis) {
    now += Math.round(millis * 1_000_000);
    return now;
  }

  private Attributes visitor(Visitor v) {
    AttributesBuilder a = Attributes.builder().put("client.address", v.ip()).put("session.id", v.session());
    if (v.user() != null) a.put("user.id", v.user()).put("enduser.id", v.user());
    if (v.analyticsConsent() != null) a.put("consent.analytics", v.analyticsConsent());
    return a.build();
  }

  private Span server(Visitor v, String method, String route, String path, String query) {
    advance(4);
    AttributesBuilder a = Attributes.builder()
        .put("http.request.method", method)
        .put("http.route", route)
        .put("url.scheme", "http")
        .put("url.path", path)
        .put("server.address", "checkout.shop.example.com")
        .put("server.port", 8080L)
        .put("network.peer.address", v.ip())
        .put("user_agent.original", v.userAgent())
        .put(STRINGS_SESSION_ID, List.of(v.session()))
        .putAll(visitor(v));
    if (query != null) a.put("url.query", query);
    if (v.user() != null) a.put(STRINGS_USER_ID, List.of(v.user()));
    return tracer.spanBuilder(method + " " + route).setSpanKind(SpanKind.SERVER).setNoParent().setAllAttributes(a.build()).setStartTimestamp(now, TimeUnit.NANOSECONDS).startSpan();
  }

  private void end(Span span, long status, double tookMillis) {
    span.setAttribute("http.response.status_code", status);
    span.end(advance(tookMillis), TimeUnit.NANOSECONDS);
  }

  /** An event's log record as the shop's handlers emit it, with no time set yet. */
  private LogRecordBuilder eventRecord(Span in, String name, Attributes attributes, String body) {
    return events.logRecordBuilder()
        .setEventName(name)
        .setSeverity(Severity.INFO)
        .setSeverityText("INFO")
        .setBody(body)
        .setAllAttributes(attributes)
        .setContext(Context.root().with(in));
  }

  private void event(Span in, String name, Attributes attributes, String body) {
    long at = advance(0.5);
    eventRecord(in, name, attributes, body).setTimestamp(at, TimeUnit.NANOSECONDS).setObservedTimestamp(now, TimeUnit.NANOSECONDS).emit();
  }

  /**
   * An event as an app emits it when it gives no time: no Timestamp on the record, only the
   * ObservedTimestamp. The SDK would fill that from its clock, which is what it does when the caller
   * sets nothing; it is set from the session's clock here so that each run sends the same data.
   */
  private void untimedEvent(Span in, String name, Attributes attributes, String body) {
    eventRecord(in, name, attributes, body).setObservedTimestamp(advance(0.5), TimeUnit.NANOSECONDS).emit();
  }

  private void session() {
    Visitor anonymous = new Visitor("192.0.2.10", "s-0c7d3355", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/126.0", null, null);
    Visitor jane = new Visitor("203.0.113.7", "s-9f2c1a7e", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0", "u-1001", true);

    Span pdp = server(anonymous, "GET", "/pdp/:slug", "/pdp/sneaker-low-weiss-ad115o0k2-a11.html", null);
    end(pdp, 200, 6.2);

    Span cart = server(jane, "POST", "/cart", "/cart", null);
    cart.setAttribute("cart.sku", "AD115O0K2-A11");
    cart.setAttribute("cart.quantity", 1L);
    event(cart, "cart.item_added", Attributes.builder().putAll(visitor(jane)).put("product.sku", "AD115O0K2-A11").put("cart.quantity", 1L).put("product.price", 89.95).put("currency", "EUR").build(), "cart.item_added");
    end(cart, 201, 3.1);

    Span page = server(jane, "GET", "/checkout", "/checkout", null);
    end(page, 200, 2.4);

    Span order = server(jane, "POST", "/checkout", "/checkout", null);
    advance(0.4);
    Span pay = tracer.spanBuilder("payment.authorize").setParent(Context.root().with(order)).setSpanKind(SpanKind.INTERNAL)
        .setAttribute("payment.method", "card").setAttribute("order.amount", 89.95).setStartTimestamp(now, TimeUnit.NANOSECONDS).startSpan();
    pay.setStatus(StatusCode.OK);
    pay.end(advance(11.7), TimeUnit.NANOSECONDS);
    order.setAttribute("order.id", "o-31337");
    order.setAttribute("order.amount", 89.95);
    order.setAttribute("currency", "EUR");
    event(order, "order.completed", Attributes.builder().putAll(visitor(jane)).put("order.id", "o-31337").put("order.amount", 89.95).put("currency", "EUR")
        .put("user.email", "jane.doe@example.com").put(AttributeKey.stringArrayKey("order.items"), List.of("AD115O0K2-A11")).build(),
        "Order o-31337 paid by jane.doe@example.com with card 4111 1111 1111 1111");
    end(order, 200, 1.3);

    Span probe = tracer.spanBuilder("GET /healthz").setSpanKind(SpanKind.SERVER).setNoParent().setStartTimestamp(advance(3), TimeUnit.NANOSECONDS)
        .setAttribute("http.request.method", "GET").setAttribute("http.route", "/healthz").setAttribute("url.path", "/healthz").setAttribute("client.address", "10.42.0.1").startSpan();
    end(probe, 200, 0.4);

    Span wishlist = server(jane, "POST", "/wishlist", "/wishlist", null);
    wishlist.setAttribute("wishlist.sku", "TRQ22O064-Q11");
    untimedEvent(wishlist, "wishlist.item_added", Attributes.builder().putAll(visitor(jane)).put("product.sku", "TRQ22O064-Q11").put("product.price", 19.99).put("currency", "EUR").build(),
        "wishlist.item_added");
    end(wishlist, 201, 2.2);
  }

  public static void main(String[] args) {
    String endpoint = (args.length > 0 ? args[0] : "http://127.0.0.1:4318").replaceAll("/$", "");
    Resource resource = Resource.getDefault().merge(Resource.create(Attributes.builder()
        .put("service.name", "shop-checkout")
        .put("service.version", "2.3.0")
        .put("service.namespace", "demo-shop")
        .put("service.instance.id", "shop-checkout-5c8d7b-xk2lp")
        .put("deployment.environment.name", "staging")
        .build()));
    SdkTracerProviderBuilder tracing = SdkTracerProvider.builder().setResource(resource).setIdGenerator(new SeededIds());
    SdkLoggerProviderBuilder logging = SdkLoggerProvider.builder().setResource(resource);
    for (String compression : List.of("none", "gzip")) {
      // One export per forced flush: no timer fires during the run, and the session fits one batch.
      tracing.addSpanProcessor(BatchSpanProcessor.builder(OtlpHttpSpanExporter.builder().setEndpoint(endpoint + "/v1/traces").setCompression(compression).build())
          .setScheduleDelay(Duration.ofMinutes(10)).setMaxExportBatchSize(2048).build());
      logging.addLogRecordProcessor(BatchLogRecordProcessor.builder(OtlpHttpLogRecordExporter.builder().setEndpoint(endpoint + "/v1/logs").setCompression(compression).build())
          .setScheduleDelay(Duration.ofMinutes(10)).setMaxExportBatchSize(2048).build());
    }
    SdkTracerProvider tracerProvider = tracing.build();
    SdkLoggerProvider loggerProvider = logging.build();
    new Shop(
        tracerProvider.tracerBuilder("shop-checkout").setInstrumentationVersion("2.3.0").build(),
        loggerProvider.loggerBuilder("shop-checkout").setInstrumentationVersion("2.3.0").build())
        .session();
    boolean ok = tracerProvider.forceFlush().join(30, TimeUnit.SECONDS).isSuccess() && loggerProvider.forceFlush().join(30, TimeUnit.SECONDS).isSuccess();
    tracerProvider.shutdown().join(30, TimeUnit.SECONDS);
    loggerProvider.shutdown().join(30, TimeUnit.SECONDS);
    if (!ok) {
      System.err.println("export failed");
      System.exit(1);
    }
  }
}
