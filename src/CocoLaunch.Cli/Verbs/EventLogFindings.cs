using CocoLaunch.Attestation;
using CocoLaunch.Attestation.ReferenceValues;
using CocoLaunch.Attestation.Tdx;
using CocoLaunch.Cli.Reports;
using CocoLaunch.Formats.Tcg;

namespace CocoLaunch.Cli.Verbs;

/// <summary>What <c>verify-evidence --event-log</c> adds for a TDX quote: the log's replay, and its events against the reference value's.</summary>
internal static class EventLogFindings
{
    /// <summary>
    /// The event log's replay against the quote (as trustee and go-tdx-guest check it): equal RTMRs mean the log's
    /// events are the ones the registers hold, so checking events is as good as checking registers.
    /// </summary>
    public static Finding Replayed(CcEventLog log, TdxQuote quote)
    {
        if (!log.Algorithms.Any(a => a.Algorithm == TcgAlgorithm.Sha384))
        {
            return new Finding("event-log", false, "the log has no SHA-384 digests, so it cannot replay to RTMRs");
        }

        var replayed = log.Replay();
        var differ = Enumerable.Range(0, 4).Where(i => !quote.Rtmr(i).SequenceEqual(replayed[i])).ToList();
        return differ.Count == 0
            ? new Finding("event-log", true, $"its {log.Events.Count} events replay to the quote's RTMR0-3")
            : new Finding("event-log", false, string.Join("; ", differ.Select(i => $"RTMR{i} replays to {Convert.ToHexStringLower(replayed[i])}, the quote has {Convert.ToHexStringLower(quote.Rtmr(i))}")));
    }

    /// <summary>
    /// The log's measured events (not EV_NO_ACTION) against the reference value's, one by one, naming the first that
    /// differs: registers that differ say only that something did, the event says what.
    /// </summary>
    public static Finding EventsMatch(CcEventLog log, IReadOnlyList<ReferenceEvent> expected)
    {
        var logged = log.Events.Where(e => e.Type != TcgEventType.NoAction).ToList();
        var events = logged.Select(RtmrEvents.Of).ToList();
        if (RtmrEvents.FirstDifference(events, expected) is not int i)
        {
            return new Finding("event-log.events", true, $"its {events.Count} measured events are the reference value's, in order");
        }

        return new Finding("event-log.events", false, i >= events.Count
            ? $"the log ends after {events.Count} events; the reference value's event {i + 1} is {RtmrEvents.Describe(expected[i])}"
            : i >= expected.Count
            ? $"event {i + 1} (offset 0x{logged[i].Offset:x}, {RtmrEvents.Describe(events[i])}) is not in the reference value, which has {expected.Count}"
            : $"event {i + 1} (offset 0x{logged[i].Offset:x}) is {RtmrEvents.Describe(events[i])}; the reference value's is {RtmrEvents.Describe(expected[i])}");
    }
}
