using CocoLaunch.Kvm;

namespace CocoLaunch.Tests.Shared;

/// <summary>A guest that performs a fixed list of actions and records what each returned.</summary>
internal sealed class ScriptedGuest(params GuestAction[] actions) : IGuest
{
    private int next;

    public List<GuestResult> Results { get; } = [];

    public GuestAction? Next(GuestResult? previous)
    {
        if (previous is not null)
        {
            Results.Add(previous);
        }

        return next < actions.Length ? actions[next++] : null;
    }
}

/// <summary>A guest that repeats one action forever (the selftests' spinning guest loops).</summary>
internal sealed class LoopingGuest(GuestAction action) : IGuest
{
    public int Completed { get; private set; }

    public GuestResult? Last { get; private set; }

    public GuestAction? Next(GuestResult? previous)
    {
        if (previous is not null)
        {
            Completed++;
            Last = previous;
        }

        return Completed >= 1000 ? new GuestAction.Halt() : action;
    }
}
