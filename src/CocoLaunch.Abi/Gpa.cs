using System.Globalization;

namespace CocoLaunch.Abi;

/// <summary>A guest-physical address.</summary>
/// <remarks>
/// Arithmetic is explicit and checked (as in vm-memory's <c>GuestAddress</c>): a wrapped GPA
/// would silently measure the wrong page, so overflow is an error rather than a wrap.
/// </remarks>
public readonly record struct Gpa(ulong Value) : IComparable<Gpa>
{
    public static Gpa Zero => default;

    /// <summary>The first address above the 32-bit space, where reset-vector firmware ends.</summary>
    public static Gpa FourGiB => new(0x1_0000_0000);

    public bool IsAligned(ulong alignment) => Value % alignment == 0;

    public bool IsPageAligned => IsAligned(PageSize.Size4K);

    public Gpa CheckedAdd(ulong bytes) => new(checked(Value + bytes));

    public bool TryAdd(ulong bytes, out Gpa result)
    {
        ulong sum = Value + bytes;
        result = new Gpa(sum);
        return sum >= Value;
    }

    public Gpa AlignDown(ulong alignment) => new(Value - Value % alignment);

    public int CompareTo(Gpa other) => Value.CompareTo(other.Value);

    public override string ToString() => "0x" + Value.ToString("x", CultureInfo.InvariantCulture);
}
