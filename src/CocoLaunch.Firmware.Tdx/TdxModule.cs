using System.Buffers;
using System.Security.Cryptography;
using CocoLaunch.Abi;
using CocoLaunch.Abi.Measurement;

namespace CocoLaunch.Firmware.Tdx;

/// <summary>
/// One TD as the TDX module builds it: TDH.MNG.INIT, TDH.MEM.PAGE.ADD into a 4K-only Secure EPT,
/// TDH.MR.EXTEND in 256-byte chunks, TDH.MR.FINALIZE. Pure: the caller owns the memory and hands page
/// contents in as spans; every measured operation is appended to <see cref="Log"/>.
/// </summary>
public sealed partial class TdxTd : IDisposable
{
    private const ulong Page = PageSize.Size4K;
    // SHA-384 is a stream: staging records and feeding them in large appends gives the same digest as one
    // append per record, without a native call per 128-byte record. A full staging buffer is hashed on a
    // pool thread while the next one fills, so page copies and S-EPT bookkeeping overlap the hash (the only
    // sequential cost); the appends are chained, so the stream order is the record order.
    private const int StagingSize = 64 * 1024;

    private readonly IncrementalHash mrtd = IncrementalHash.CreateHash(HashAlgorithmName.SHA384);
    private readonly PageSet secureEpt = new();
    private byte[] staging = ArrayPool<byte>.Shared.Rent(StagingSize);
    private int staged;
    private Task hashing = Task.CompletedTask;
    private byte[]? finalMrtd;

    // MR.EXTEND comes 16 times per page, right after its PAGE.ADD: remember the page last found in the S-EPT.
    private ulong lastMappedPage = ulong.MaxValue;
    private readonly byte[][] rtmrs = [new byte[48], new byte[48], new byte[48], new byte[48]];
    private int septHolders;

    /// <param name="sharedBit">The GPA bit that marks shared addresses (47 for GPAW 48, 51 for GPAW 52).</param>
    public TdxTd(int sharedBit = 47, MeasurementLog? log = null)
    {
        SharedBit = sharedBit;
        Log = log ?? new MeasurementLog();
    }

    public int SharedBit { get; }

    public MeasurementLog Log { get; }

    public TdParams? Params { get; private set; }

    public bool IsFinalized => finalMrtd is not null;

    public long PagesAdded { get; private set; }

    public long Extends { get; private set; }

    /// <summary>MRTD after TDH.MR.FINALIZE.</summary>
    public byte[] Mrtd => finalMrtd?.ToArray() ?? throw new TdxException(TdxStatus.OpStateIncorrect, "TDH.MR.FINALIZE", "MRTD is not final before TDH.MR.FINALIZE");

    /// <summary>TDH.MNG.INIT: records TD_PARAMS and starts MRTD. Nothing of TD_PARAMS is hashed.</summary>
    public void MngInit(TdParams parameters)
    {
        if (Params is not null)
        {
            throw new TdxException(TdxStatus.OpStateIncorrect, "TDH.MNG.INIT", "the TD is already initialised");
        }

        Params = parameters;
    }

    /// <summary>
    /// Holds the TD's Secure-EPT tree lock exclusively, as a concurrent SEAMCALL on another logical CPU does
    /// (TDH.MEM.SEPT.ADD, TDH.MEM.TRACK). Until the token is disposed, PAGE.ADD gets TDX_OPERAND_BUSY: the
    /// module never waits for a lock, so a host kernel has to cope with this status on any tree-walking leaf.
    /// </summary>
    public IDisposable HoldSecureEptLock()
    {
        Interlocked.Increment(ref septHolders);
        return new SecureEptLockHold(this);
    }

    /// <summary>TDH.MEM.PAGE.ADD: maps a 4K private page in the Secure EPT, copies the source into it, and measures its GPA.</summary>
    public void MemPageAdd(Gpa gpa, ReadOnlySpan<byte> source, Span<byte> tdPage)
    {
        CheckBuild("TDH.MEM.PAGE.ADD");
        CheckGpa("TDH.MEM.PAGE.ADD", gpa);
        if (Volatile.Read(ref septHolders) > 0)
        {
            throw new TdxException(TdxStatus.OperandBusy, "TDH.MEM.PAGE.ADD", "the Secure-EPT tree lock is held by another SEAMCALL");
        }
        if (!secureEpt.Add(gpa.Value))
        {
            throw new TdxException(TdxStatus.EptEntryNotFree, "TDH.MEM.PAGE.ADD", $"GPA {gpa} is already mapped");
        }

        source[..(int)Page].CopyTo(tdPage);
        var record = Stage(MrtdRecords.BufferSize);
        MrtdRecords.PageAdd(gpa.Value, record);
        PagesAdded++;
        Log.Append("MEM.PAGE.ADD", gpa, MrtdRecords.BufferSize, record);
    }

    /// <summary>TDH.MR.EXTEND: measures one 256-byte chunk of a page already added, as it is now in TD memory.</summary>
    public void MrExtend(Gpa chunkGpa, ReadOnlySpan<byte> chunk)
    {
        CheckBuild("TDH.MR.EXTEND");
        if (chunkGpa.Value % MrtdRecords.ExtendChunk != 0 || HasSharedBit(chunkGpa))
        {
            throw new TdxException(TdxStatus.OperandInvalid, "TDH.MR.EXTEND", $"chunk GPA {chunkGpa} is not 256-byte aligned or is shared");
        }

        ulong page = chunkGpa.AlignDown(Page).Value;
        if (page != lastMappedPage)
        {
            if (!secureEpt.Contains(page))
            {
                throw new TdxException(TdxStatus.EptWalkFailed, "TDH.MR.EXTEND", $"the page of {chunkGpa} was never added");
            }

            lastMappedPage = page;
        }

        MrtdRecords.Extend(chunkGpa.Value, Stage(MrtdRecords.BufferSize));
        chunk[..MrtdRecords.ExtendChunk].CopyTo(Stage(MrtdRecords.ExtendChunk));
        Extends++;
        Log.Append("MR.EXTEND", chunkGpa, MrtdRecords.BufferSize + MrtdRecords.ExtendChunk, chunk[..MrtdRecords.ExtendChunk]);
    }

    /// <summary>TDH.MR.FINALIZE: closes MRTD with SHA-384 padding; the TD can no longer be built.</summary>
    public byte[] MrFinalize()
    {
        CheckBuild("TDH.MR.FINALIZE");
        hashing.Wait();
        mrtd.AppendData(staging, 0, staged);
        staged = 0;
        finalMrtd = mrtd.GetHashAndReset();
        return Mrtd;
    }

    public bool IsAdded(Gpa gpa) => secureEpt.Contains(gpa.Value);

    /// <summary>RTMR0–3. They start at zero; only the running TD extends them (TDG.MR.RTMR.EXTEND).</summary>
    public IReadOnlyList<byte[]> Rtmrs => rtmrs.Select(r => r.ToArray()).ToList();

    /// <summary>TDG.MR.RTMR.EXTEND: RTMR[index] = SHA-384(RTMR[index] ‖ value).</summary>
    public void RtmrExtend(int index, ReadOnlySpan<byte> value)
    {
        if (index is < 0 or > 3 || value.Length != 48)
        {
            throw new TdxException(TdxStatus.OperandInvalid, "TDG.MR.RTMR.EXTEND", $"RTMR index {index} or a {value.Length}-byte value");
        }

        var data = new byte[96];
        rtmrs[index].CopyTo(data, 0);
        value.CopyTo(data.AsSpan(48));
        rtmrs[index] = SHA384.HashData(data);
    }

    /// <summary>TDG.MR.REPORT: the 1024-byte TDREPORT with the caller's REPORTDATA (after finalization only).</summary>
    public byte[] Report(ReadOnlySpan<byte> reportData) => TdReport.Build(Params!, Mrtd, rtmrs, reportData);

    /// <summary>Room for the next record in the staging buffer, flushing it to the hash when full.</summary>
    private Span<byte> Stage(int length)
    {
        if (staged + length > StagingSize)
        {
            Flush();
        }

        var span = staging.AsSpan(staged, length);
        staged += length;
        return span;
    }

    private void Flush()
    {
        var full = staging;
        int length = staged;
        hashing = hashing.ContinueWith(
            static (_, state) =>
            {
                var (hash, buffer, count) = ((IncrementalHash, byte[], int))state!;
                hash.AppendData(buffer, 0, count);
                ArrayPool<byte>.Shared.Return(buffer);
            },
            (mrtd, full, length),
            CancellationToken.None,
            TaskContinuationOptions.None,
            TaskScheduler.Default);
        staging = ArrayPool<byte>.Shared.Rent(StagingSize);
        staged = 0;
    }

    public void Dispose()
    {
        hashing.Wait();
        mrtd.Dispose();
    }

    private void CheckBuild(string leaf)
    {
        if (Params is null)
        {
            throw new TdxException(TdxStatus.OpStateIncorrect, leaf, "TDH.MNG.INIT has not been done");
        }

        if (finalMrtd is not null)
        {
            throw new TdxException(TdxStatus.OpStateIncorrect, leaf, "the TD's measurement is finalized");
        }
    }

    private void CheckGpa(string leaf, Gpa gpa)
    {
        if (!gpa.IsPageAligned || HasSharedBit(gpa))
        {
            throw new TdxException(TdxStatus.OperandInvalid, leaf, $"GPA {gpa} is not 4 KiB aligned or has the shared bit {SharedBit}");
        }
    }

    private bool HasSharedBit(Gpa gpa) => ((gpa.Value >> SharedBit) & 1) != 0;

    private sealed class SecureEptLockHold(TdxTd td) : IDisposable
    {
        private int released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                Interlocked.Decrement(ref td.septHolders);
            }
        }
    }
}
